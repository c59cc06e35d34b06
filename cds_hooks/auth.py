"""EHR authentication (CDS Hooks 2.0 "Trusting CDS Clients").

Every call under /cds-services must carry `Authorization: Bearer <JWT>` unless dev mode is on:
hook calls and feedback always, discovery too unless `auth_discovery` is off (the 2.0 text has
the client sign discovery calls as well). The token must be signed with an asymmetric algorithm
by a configured issuer's key (its JWKS file first, then the `jku` if that exact URL is on the
issuer's allowlist, else its JWKS URL), each key verifying only its own algorithm; name exactly
this endpoint's URL as `aud`, carry `exp`, `iat` and a `jti` never seen before. Replay is checked
in the shared database, so every gunicorn worker sees every jti.

Any failure is a bare 401; the log gets only the reason category, never the token. When the
replay table cannot be reached the call is refused with 503 + Retry-After (our fault, passing).
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from pathlib import Path

import jwt
import requests
from flask import Flask, Response, g, request
from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cds_hooks import cors
from cds_hooks.config import Config, Issuer
from cds_hooks.database import seen_tokens
from cds_hooks.errors import unavailable

log = logging.getLogger("cpt97124.auth")

# CDS Hooks forbids `none` and symmetric (HMAC) signatures; the key type must match the family.
KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
ALGORITHMS = frozenset(f"{family}{bits}" for family in KEY_TYPE for bits in (256, 384, 512))
MAX_TOKEN_CHARS = 8192
MAX_JWKS_BYTES = 256 * 1024
KEY_MISS_REFETCH_SECONDS = 30   # an unknown kid may mean rotated keys, but do not refetch on every miss
PURGE_EVERY = 100               # requests between sweeps of expired jti rows


class Rejected(Exception):
    """A token we refuse; `reason` is a short category safe to log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ReplayStoreDown(Exception):
    """The replay table cannot be reached: the token is neither accepted nor blamed."""


class KeySets:
    """JWK Sets by source (URL or file), cached in-process with a time-to-live."""

    def __init__(self, config: Config):
        self.config = config
        self._cache: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def _fetch_url(self, url: str) -> dict:
        timeout = (self.config.jwks_timeout, self.config.jwks_timeout)
        deadline = time.monotonic() + 2 * self.config.jwks_timeout
        try:
            with requests.get(url, timeout=timeout, stream=True, allow_redirects=False,
                              headers={"Accept": "application/json", "Accept-Encoding": "identity"}) as response:
                if response.status_code != 200:
                    raise Rejected("jwks-unavailable")
                # read1 returns what has arrived, so a host dripping bytes cannot hold the request.
                parts, size = [], 0
                while size <= MAX_JWKS_BYTES and (chunk := response.raw.read1(65536)):
                    if time.monotonic() > deadline:
                        raise Rejected("jwks-unavailable")
                    parts.append(chunk)
                    size += len(chunk)
                body = b"".join(parts)
        except (requests.RequestException, OSError, ValueError):
            raise Rejected("jwks-unavailable") from None
        if len(body) > MAX_JWKS_BYTES:
            raise Rejected("jwks-invalid")
        return _parse_jwks(body)

    def _read_file(self, path: str) -> dict:
        try:
            return _parse_jwks(Path(path).read_bytes())
        except OSError:
            raise Rejected("jwks-unavailable") from None

    def get(self, source: str, is_url: bool, refresh: bool = False) -> dict:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(source)
        if cached is not None:
            fetched, jwks = cached
            age = now - fetched
            if age < self.config.jwks_cache_seconds and not (refresh and age >= KEY_MISS_REFETCH_SECONDS):
                return jwks
        jwks = self._fetch_url(source) if is_url else self._read_file(source)
        with self._lock:
            self._cache[source] = (now, jwks)
        return jwks


def _parse_jwks(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Rejected("jwks-invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise Rejected("jwks-invalid")
    return data


# A key that does not name its algorithm is pinned to its type's one family (RSA: RS, not PS)
# and, for EC, to the one algorithm of its curve.
CURVE_ALGORITHM = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def _allows(jwk: dict, alg: str) -> bool:
    """Whether this JWK may verify a signature made with `alg` (RFC 7517 section 4.4, 7518 section 3)."""
    if jwk.get("kty") != KEY_TYPE[alg[:2]] or jwk.get("use", "sig") != "sig":
        return False
    if "alg" in jwk:
        return jwk["alg"] == alg
    if jwk["kty"] == "EC":
        return CURVE_ALGORITHM.get(str(jwk.get("crv"))) == alg
    return alg.startswith("RS")


def _find_key(jwks: dict, kid: str, alg: str):
    """The public key `kid` in the set, if it is pinned to `alg` and meant for signatures."""
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kid") != kid:
            continue
        if not _allows(jwk, alg):
            raise Rejected("key-mismatch")
        if "d" in jwk:  # a private key published by mistake is not a key we will trust
            raise Rejected("key-mismatch")
        try:
            return jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError:
            raise Rejected("key-invalid") from None
    return None


class Verifier:
    """Checks client JWTs against the configured issuers; `engine` holds the replay table."""

    def __init__(self, config: Config, engine: Engine):
        self.config = config
        self.issuers = {i.iss: i for i in config.issuers}
        self.keys = KeySets(config)
        self.engine = engine
        self._calls = itertools.count(1)

    def _key_sources(self, issuer: Issuer, header: dict) -> list[tuple[str, bool]]:
        """Where to look for the key, in order: the issuer's file (no network, and it answers for
        the issuer whether or not the token names a `jku`), then the `jku` if allowlisted, else
        the issuer's JWKS URL."""
        jku = header.get("jku")
        if jku is not None and (not isinstance(jku, str) or jku not in issuer.jku_allowlist):
            raise Rejected("jku-not-allowed")
        sources = [(issuer.jwks_file, False)] if issuer.jwks_file else []
        if jku is not None:
            sources.append((jku, True))
        elif issuer.jwks_url:
            sources.append((issuer.jwks_url, True))
        if not sources:
            raise Rejected("issuer-has-no-keys")
        return sources

    def _public_key(self, issuer: Issuer, header: dict):
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Rejected("kid-missing")
        for source, is_url in self._key_sources(issuer, header):
            key = _find_key(self.keys.get(source, is_url), kid, header["alg"])
            if key is None:  # perhaps the issuer rotated its keys since we cached the set
                key = _find_key(self.keys.get(source, is_url, refresh=True), kid, header["alg"])
            if key is not None:
                return key
        raise Rejected("kid-unknown")

    def _issuer_and_header(self, token: str) -> tuple[Issuer, dict]:
        """Who claims to have signed, and how: read before any signature check, trusted after."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Rejected("malformed") from None
        if not isinstance(header.get("alg"), str) or header["alg"] not in ALGORITHMS:
            raise Rejected("algorithm")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Rejected("issuer-unknown")
        return issuer, header

    def _checked_claims(self, token: str, key, alg: str, issuer: Issuer, audience: str) -> dict:
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[alg], issuer=issuer.iss,
                audience=audience, leeway=self.config.jwt_leeway,
                # `aud` (a string, or a list per RFC 7519) must hold the URL called, exactly.
                options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except jwt.InvalidSignatureError:
            raise Rejected("signature") from None
        except jwt.ExpiredSignatureError:
            raise Rejected("expired") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise Rejected("audience") from None
        except jwt.PyJWTError:
            raise Rejected("claims") from None
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 255 or not jti.isprintable():
            raise Rejected("claims")  # the replay table stores it as it is, on every backend
        if not all(isinstance(claims[t], (int, float)) and not isinstance(claims[t], bool) for t in ("exp", "iat")):
            raise Rejected("claims")  # PyJWT also takes numeric strings; CDS Hooks says numbers
        if claims["exp"] - claims["iat"] > self.config.jwt_max_lifetime:
            raise Rejected("lifetime")
        return claims

    def verify(self, token: str, audience: str) -> dict:
        """The token's claims if it passes every check (replay last), else Rejected."""
        issuer, header = self._issuer_and_header(token)
        key = self._public_key(issuer, header)
        claims = self._checked_claims(token, key, header["alg"], issuer, audience)
        self._remember(issuer.iss, claims["jti"], int(claims["exp"]) + self.config.jwt_leeway)
        return claims

    def _remember(self, iss: str, jti: str, keep_until: int) -> None:
        """Record the jti; a second use of it, by any worker, fails the unique key."""
        try:
            with self.engine.begin() as connection:
                if next(self._calls) % PURGE_EVERY == 0:
                    connection.execute(delete(seen_tokens).where(seen_tokens.c.expires_at < int(time.time())))
                connection.execute(insert(seen_tokens).values(iss=iss, jti=jti, expires_at=keep_until))
        except IntegrityError:
            raise Rejected("replay") from None
        except SQLAlchemyError as error:
            # Without the replay table we cannot vouch for the token: refuse rather than trust,
            # but say that it is our fault and passing (503), not the client's token (401).
            raise ReplayStoreDown(type(error).__name__) from None


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Rejected("missing")
    if len(token) > MAX_TOKEN_CHARS:
        raise Rejected("malformed")
    return token


def expected_audience(config: Config) -> str:
    """The URL the client called, as CDS Hooks wants it in `aud`.

    Behind a proxy the URL Flask sees is not the one the EHR used: set public_base_url
    (CPT97124_PUBLIC_BASE_URL) to the external base URL there.
    """
    if config.public_base_url:
        return config.public_base_url.rstrip("/") + request.path
    return request.base_url


def _needs_token(config: Config) -> bool:
    if not config.auth_required or request.method == "OPTIONS":
        return False  # preflights carry no credentials; cors.py answers them
    if request.path == "/cds-services":
        return config.auth_discovery
    return cors.is_cds_path(request.path)


def unauthorized(reason: str) -> Response:
    log.warning(json.dumps({"request_id": g.get("request_id"), "auth": "rejected", "reason": reason}))
    response = Response(status=401)
    response.headers["WWW-Authenticate"] = (
        'Bearer' if reason == "missing" else 'Bearer error="invalid_token"')
    return response


def init_app(app: Flask, config: Config, engine: Engine) -> None:
    """Require a verified client JWT on the CDS paths (register after CORS: a preflight carries
    none); `engine` is the app's database, which keeps the seen jti values."""
    if not config.auth_required:
        log.warning("JWT verification is OFF (dev mode)")
        return
    if not config.public_base_url:
        log.warning("CPT97124_PUBLIC_BASE_URL is not set: JWT `aud` is checked against the Host the "
                    "request names; set it to the URL the EHRs call")
    verifier = Verifier(config, engine)

    @app.before_request
    def require_client_jwt():
        if not _needs_token(config):
            return None
        try:
            claims = verifier.verify(_bearer_token(), expected_audience(config))
        except Rejected as rejected:
            return unauthorized(rejected.reason)
        except ReplayStoreDown as down:
            log.error(json.dumps({"request_id": g.get("request_id"), "auth": "replay-store-unavailable",
                                  "error": str(down)}))
            raise unavailable("the service cannot check tokens right now") from None
        g.client_iss = claims["iss"]
        return None
