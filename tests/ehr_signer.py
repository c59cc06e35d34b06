"""An EHR's side of CDS Hooks JWT auth for tests: real keys, real signatures, a real JWKS server.

    ehr = Signer.rsa("ehr-rsa")              # or Signer.ec("ehr-ec")
    token = ehr.token(aud="https://cds.example.org/cds-services")
    with JwksServer({"/jwks": ehr.jwks()}) as server: server.url("/jwks")
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISS = "https://ehr.example.org"
BASE = "https://cds.example.org"


class Signer:
    def __init__(self, private_key, kid: str, alg: str):
        self.private_key, self.kid, self.alg = private_key, kid, alg

    @classmethod
    def rsa(cls, kid: str = "rsa-1", alg: str = "RS384") -> Signer:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid, alg)

    @classmethod
    def ec(cls, kid: str = "ec-1", alg: str = "ES384") -> Signer:
        return cls(ec.generate_private_key(ec.SECP384R1()), kid, alg)

    def public_jwk(self) -> dict:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def jwks(self) -> dict:
        return {"keys": [self.public_jwk()]}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, aud: str, **overrides) -> dict:
        now = int(time.time())
        claims = {"iss": ISS, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}  # None drops a claim

    def token(self, aud: str, headers: dict | None = None, **overrides) -> str:
        return jwt.encode(self.claims(aud, **overrides), self.private_key, algorithm=self.alg,
                          headers={"kid": self.kid, "typ": "JWT", **(headers or {})})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(signer: Signer, aud: str) -> str:
    """The classic confusion attack: HMAC-sign with the issuer's *public* key as the secret."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.kid}).encode())
    payload = b64(json.dumps(signer.claims(aud)).encode())
    mac = hmac.new(signer.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def unsigned(signer: Signer, aud: str) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": signer.kid}).encode())
    return f"{header}.{b64(json.dumps(signer.claims(aud)).encode())}."


class JwksServer:
    """Serves JSON documents by path on a loopback port and counts the requests it got."""

    def __init__(self, documents: dict[str, dict]):
        self.documents = documents
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                document = server.documents.get(self.path)
                body = json.dumps(document).encode() if document is not None else b""
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def __enter__(self) -> JwksServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
