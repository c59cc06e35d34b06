"""A local test EHR key: signs the CDS Hooks JWTs a production-mode service asks for.

The key lives in a folder (default ./var/workbench): `key.pem` (private, RSA 2048), `jwks.json`
(its public JWK Set) and `issuers.json`, a trusted-issuers file the service reads through
CPT97124_ISSUERS (docs/operations.md). Tokens follow CDS Hooks 2.0 "Trusting CDS Clients":
iss, aud = the endpoint URL, iat, exp (5 minutes), a fresh jti, RS384.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "urn:cpt97124:workbench"
ALGORITHM = "RS384"
KID = "workbench-1"
LIFETIME_SECONDS = 300


class LocalKey:
    """The workbench's signing key, created on first use and kept on disk."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / "key.pem"
        if path.exists():
            self.private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(self.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            path.chmod(0o600)
        self._write_public_files()

    @property
    def issuers_file(self) -> Path:
        return self.folder / "issuers.json"

    def jwks(self) -> dict:
        jwk = jwt.get_algorithm_by_name(ALGORITHM).to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": ALGORITHM}]}

    def _write_public_files(self) -> None:
        jwks_file = self.folder / "jwks.json"
        jwks_file.write_text(json.dumps(self.jwks(), indent=2))
        self.issuers_file.write_text(json.dumps([{"iss": ISSUER, "jwks_file": str(jwks_file.resolve())}], indent=2))

    def token(self, aud: str) -> str:
        """A signed bearer token for one call to `aud` (the full endpoint URL)."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + LIFETIME_SECONDS, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": KID, "typ": "JWT"})
