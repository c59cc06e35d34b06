"""Settings, read once from the environment (CPT97124_*), with safe embedded defaults.

Dev mode (what `make serve` runs) turns JWT checks off, allows loopback FHIR servers and any
CORS origin; production mode refuses to start without a trusted issuer.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@dataclass(frozen=True)
class Issuer:
    """A trusted EHR: its `iss`, where its public keys are, and which `jku` URLs it may name."""

    iss: str
    jwks_url: str | None = None
    jwks_file: str | None = None
    jku_allowlist: tuple[str, ...] = ()


def _issuers(path: str) -> tuple[Issuer, ...]:
    """CPT97124_ISSUERS: a JSON file [{"iss": ..., "jwks_url" | "jwks_file": ..., "jku_allowlist": [...]}].

    Anything else stops start-up with one line naming the file (OSError when it cannot be read)."""
    try:
        data = json.loads(Path(path).read_text())
        return tuple(Issuer(iss=i["iss"], jwks_url=i.get("jwks_url"), jwks_file=i.get("jwks_file"),
                            jku_allowlist=tuple(i.get("jku_allowlist", ()))) for i in data)
    except (ValueError, TypeError, LookupError, AttributeError) as error:
        raise SystemExit(f"CPT97124_ISSUERS={path}: not a JSON list of issuers each with an \"iss\" "
                         f"({type(error).__name__}: {error})") from None


@dataclass(frozen=True)
class Config:
    dev: bool = False
    database_url: str = "sqlite:///var/feedback.db"
    database_timeout: float = 5.0              # seconds to connect to / wait for a lock in the database
    issuers: tuple[Issuer, ...] = ()
    # Origins (scheme://host[:port]) the service may call as fhirServer. Dev mode adds loopback.
    fhir_allowlist: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_request_bytes: int = 5 * 1024 * 1024
    payer_profiles: str | None = None          # a clinic's own payer profile TOML
    fhir_connect_timeout: float = 2.0
    fhir_read_timeout: float = 4.0
    fhir_deadline: float = 8.0                 # seconds for all FHIR fallback queries of a request
    fhir_page_cap: int = 20                    # Bundle pages followed per query
    jwt_leeway: int = 60
    rule_system: str = "http://cpt97124.example.org/fhir/CodeSystem/rule"
    product_label: str = "CPT 97124 Massage Billing Check"
    public_base_url: str | None = None         # the URL EHRs call us by, for JWT `aud`
    # The name EHRs use for our custom hook; a deployment may register it under a
    # reverse-domain name (e.g. "org.example.claim-prepare"), as CDS Hooks asks of custom hooks.
    claim_hook_name: str = "claim-prepare"
    # CDS Hooks 2.0 has the client sign every call, discovery included; a deployment whose EHR
    # cannot sign its discovery GET may turn this off (hook calls and feedback stay protected).
    auth_discovery: bool = True
    jwks_cache_seconds: int = 300              # how long a fetched JWK Set is used before refetching
    jwks_timeout: float = 3.0                  # seconds to connect to / read an issuer's JWKS URL
    jwt_max_lifetime: int = 3600               # longest exp - iat accepted (bounds the replay table)

    @property
    def auth_required(self) -> bool:
        return not self.dev

    def hook_name(self, hook: str) -> str:
        """The name a hook goes by on the wire (only claim-prepare may be renamed)."""
        return self.claim_hook_name if hook == "claim-prepare" else hook

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Config:
        env = dict(os.environ if env is None else env)

        def get(key: str) -> str | None:
            return env.get(f"CPT97124_{key}")

        def setting(key: str, default: object) -> str:
            return env.get(f"CPT97124_{key}", str(default))

        def yes(key: str, default: str) -> bool:
            return setting(key, default).lower() in ("1", "true", "yes")

        issuers_file = get("ISSUERS")
        values: dict[str, Any] = dict(
            dev=yes("DEV", "0"),
            database_url=setting("DATABASE_URL", cls.database_url),
            database_timeout=float(setting("DATABASE_TIMEOUT", cls.database_timeout)),
            issuers=_issuers(issuers_file) if issuers_file else (),
            fhir_allowlist=_list(get("FHIR_ALLOWLIST")),
            cors_origins=_list(get("CORS_ORIGINS")),
            max_request_bytes=int(setting("MAX_REQUEST_BYTES", cls.max_request_bytes)),
            payer_profiles=get("PAYER_PROFILES"),
            fhir_deadline=float(setting("FHIR_DEADLINE", cls.fhir_deadline)),
            fhir_connect_timeout=float(setting("FHIR_CONNECT_TIMEOUT", cls.fhir_connect_timeout)),
            fhir_read_timeout=float(setting("FHIR_READ_TIMEOUT", cls.fhir_read_timeout)),
            fhir_page_cap=int(setting("FHIR_PAGE_CAP", cls.fhir_page_cap)),
            public_base_url=get("PUBLIC_BASE_URL"),
            jwt_leeway=int(setting("JWT_LEEWAY", cls.jwt_leeway)),
            auth_discovery=yes("AUTH_DISCOVERY", "1"),
            jwks_cache_seconds=int(setting("JWKS_CACHE_SECONDS", cls.jwks_cache_seconds)),
            jwt_max_lifetime=int(setting("JWT_MAX_LIFETIME", cls.jwt_max_lifetime)),
            claim_hook_name=setting("CLAIM_HOOK_NAME", cls.claim_hook_name),
        )
        values.update(overrides)
        return cls(**values)

    def check(self) -> None:
        """Refuse configurations that would be unsafe in production, or that no worker could start
        with (a database URL that does not parse, a payer-profile file that does not load): one
        line naming the setting, before any worker starts, instead of each worker's traceback."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from plugin import load_policy
        try:
            make_url(self.database_url)
        except ArgumentError:
            raise SystemExit("CPT97124_DATABASE_URL is not a database URL "
                             "(e.g. sqlite:///var/feedback.db, postgresql://user@host/db)") from None
        try:
            load_policy(self.payer_profiles)
        except (OSError, ValueError) as error:  # TOMLDecodeError is a ValueError
            raise SystemExit(f"CPT97124_PAYER_PROFILES={self.payer_profiles}: {error}") from None
        if not self.dev and not self.issuers:
            raise SystemExit("production mode needs at least one trusted issuer (CPT97124_ISSUERS); "
                             "use --dev for local testing")
        if not self.dev and not self.public_base_url:
            # JWT `aud` must be checked against the URL EHRs were told to call, not a Host header.
            raise SystemExit("production mode needs CPT97124_PUBLIC_BASE_URL (the service's public URL)")
