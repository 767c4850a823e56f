"""The gateway's token keys come from accounts' JWKS: rotation picks up a new key with its first
token, a dropped key stops verifying, and the gateway reports ready only once it has keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from algoitny_gateway.adapters.jwks import JwksKeys
from algoitny_gateway.service_layer.auth import Authenticator
from algoitny_shared import tokens
from algoitny_shared.errors import AppError


class FakeAccounts:
    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.reads = 0
        self.url = ""


@pytest.fixture
def accounts() -> Iterator[FakeAccounts]:
    fake = FakeAccounts()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.reads += 1
            body = json.dumps(fake.document).encode()
            self.send_response(200 if self.path == tokens.JWKS_PATH else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


async def test_rotation_through_the_jwks(accounts: FakeAccounts) -> None:
    old, new = tokens.generate_key(), tokens.generate_key()
    keys = JwksKeys(accounts.url, min_interval_s=0.0)
    auth = Authenticator(keys, "")
    with pytest.raises(ConnectionError):
        await keys.ready()  # no keys yet: not ready
    accounts.document = tokens.SigningKeys.parse(old).jwks()
    await keys.refresh()
    await keys.ready()
    old_token, _ = tokens.issue(tokens.SigningKeys.parse(old), user_id="u1", role="user", plan="free", ttl_s=60)
    assert auth.identify(f"Bearer {old_token}").user_id == "u1"

    # Accounts rotates: signs with the new key, still publishes the old one.
    rotated = tokens.SigningKeys.parse(new, old)
    accounts.document = rotated.jwks()
    new_token, _ = tokens.issue(rotated, user_id="u2", role="user", plan="free", ttl_s=60)
    reads = accounts.reads
    await keys.ensure(f"Bearer {new_token}")  # an unknown key id: read again at once
    assert accounts.reads == reads + 1
    assert auth.identify(f"Bearer {new_token}").user_id == "u2"
    assert auth.identify(f"Bearer {old_token}").user_id == "u1"
    await keys.ensure(f"Bearer {new_token}")  # a known key: no read
    assert accounts.reads == reads + 1

    # The old key is dropped after a token lifetime: its tokens stop verifying at the next read.
    accounts.document = tokens.SigningKeys.parse(new).jwks()
    await keys.refresh()
    with pytest.raises(AppError, match="unknown key"):
        auth.identify(f"Bearer {old_token}")
    assert auth.identify(f"Bearer {new_token}").user_id == "u2"
    assert set(keys.document()["keys"][0]) == {"kty", "crv", "x", "kid", "alg", "use"}


async def test_unknown_key_ids_cannot_make_the_gateway_hammer_accounts(accounts: FakeAccounts) -> None:
    accounts.document = tokens.SigningKeys.generate().jwks()
    keys = JwksKeys(accounts.url, min_interval_s=60.0)
    await keys.refresh(force=True)
    reads = accounts.reads
    for _ in range(5):
        stranger, _ = tokens.issue(tokens.SigningKeys.generate(), user_id="x", role="admin", plan="x", ttl_s=60)
        await keys.ensure(f"Bearer {stranger}")
    assert accounts.reads == reads  # at most one read per min_interval_s
