"""A stand-in for Google's key endpoint: locally generated RSA keys served as a JWKS over HTTP,
and ID tokens signed with them (the accounts service verifies them as it would Google's)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://accounts.google.com"


class FakeGoogle:
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.kid = uuid.uuid4().hex[:12]
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def id_token(self, *, key: Any = None, kid: str | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": self.client_id,
            "sub": uuid.uuid4().hex,
            "email": f"g{uuid.uuid4().hex[:8]}@gmail-e2e.dev",
            "email_verified": True,
            "name": "Google User",
            "picture": "https://lh3.example/photo.jpg",
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@contextmanager
def serve_jwks(google: FakeGoogle) -> Iterator[str]:
    body = json.dumps(google.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    google.url = f"http://127.0.0.1:{server.server_address[1]}/oauth2/v3/certs"
    try:
        yield google.url
    finally:
        server.shutdown()
        server.server_close()
