"""The internal quota calls over HTTP: only the charged user's identity may make them, and only
admins may claim an Idempotency-Key without being charged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx

from algoitny_ratelimit.entrypoints.http import make_app
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner


class FakeQuotas:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def consume(self, req: Any) -> dict[str, Any]:
        self.calls.append(req)
        return {
            "action": req.action,
            "limit": -1,
            "used": 0,
            "remaining": None,
            "reset_at": "2099-01-01T00:00:00Z",
            "day": "2098-12-31",
            "admitted": True,
            "plan_id": "",
        }


def _headers(settings: RatelimitSettings, identity: Identity) -> dict[str, str]:
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    return {IDENTITY_HEADER: signer.sign(identity, "POST", "/quota/consume")}


async def test_only_admins_claim_keys_without_a_charge() -> None:
    settings = RatelimitSettings()
    quotas = FakeQuotas()
    container = SimpleNamespace(
        settings=settings, dynamodb=None, usage=SimpleNamespace(table="t"), broker=None, relay=None, quotas=quotas
    )
    app = make_app(container)  # type: ignore[arg-type]
    body = {
        "user_id": "u1",
        "action": "execution",
        "request_id": "attempt-0001",
        "metered": False,
        "idempotency": {"key": "key-00000001", "fingerprint": "a" * 64},
    }
    user, admin = Identity(user_id="u1", role="user"), Identity(user_id="u1", role="admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rl") as client:
        refused = await client.post("/quota/consume", json=body, headers=_headers(settings, user))
        other = await client.post("/quota/consume", json={**body, "user_id": "u2"}, headers=_headers(settings, admin))
        allowed = await client.post("/quota/consume", json=body, headers=_headers(settings, admin))
    assert refused.status_code == 403 and other.status_code == 403
    assert allowed.status_code == 200 and len(quotas.calls) == 1 and quotas.calls[0].metered is False
