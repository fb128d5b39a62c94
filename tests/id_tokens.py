"""A throw-away Google: an RSA key that signs ID tokens, and its JWKS served on 127.0.0.1.

Tokens are RS256 JWTs with a ``kid``, as Google's; the JWKS is what
``CAMWATCH_ID_TOKEN_CERTS_URL`` points at in tests (``verify_token`` reads PEM maps and JWKS).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://accounts.google.com"
AUDIENCE = "https://process-camera.example.run.app"
ACCOUNT = "dashboard@city.iam.gserviceaccount.com"


@dataclass
class Issuer:
    """Signs tokens with a fresh key; ``served`` counts the JWKS fetches."""

    kid: str = "test-key-1"
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    served: int = 0
    pem: bool = False  # serve Google's v1 format (kid -> PEM) instead of a JWKS

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK set."""
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def certs(self) -> dict[str, Any]:
        """What the certificates URL answers: a JWKS, or a kid -> PEM map."""
        if not self.pem:
            return self.jwks()
        public = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {self.kid: public.decode()}

    def token(self, **claims: Any) -> str:
        """A signed ID token: Google's claims for :data:`ACCOUNT`, overridden by ``claims``."""
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "1234567890",
            "email": ACCOUNT,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})

    @contextmanager
    def serve(self) -> Iterator[str]:
        """The JWKS at a 127.0.0.1 URL while the block runs."""
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.served += 1
                body = json.dumps(issuer.certs()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/certs"
        finally:
            server.shutdown()
            server.server_close()


def tampered(token: str) -> str:
    """``token`` with its payload changed (another email), the signature kept."""
    head, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["email"] = "intruder@evil.iam.gserviceaccount.com"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{head}.{forged}.{signature}"
