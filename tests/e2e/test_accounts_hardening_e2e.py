"""Security issue 23, accounts items, end to end through the gateway on the real stack:

- 3: an address registered with a password by someone else is not silently merged into the
  real owner's Google account: linking clears the password and ends every earlier session;
- 9: parallel failed sign-ins from many addresses cannot pass the throttle together;
- 10: a role or plan change ends the powers of tokens issued before it, within moments;
- 17: a plan deleted right after a user was moved onto it does not leave the user on it.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from support.e2e_config import LINKED_ADMIN_EMAIL, MAX_FAILURES_PER_ACCOUNT
from support.google_keys import FakeGoogle
from support.polling import eventually

from algoitny_devtools.platform import Platform

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _ok(resp: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@e2e-mail.dev"


def _refused_soon(gateway: httpx.Client, token: str) -> str:
    """The gateway refuses the token within moments (it follows accounts' events); returns why."""

    def refused() -> str | None:
        resp = gateway.get("/api/v1/auth/whoami", headers=_bearer(token))
        return str(resp.json()["detail"]) if resp.status_code == 401 else None

    return eventually(refused, timeout_s=20)


# ---------------------------------------------------------------- item 3


def test_google_owner_takes_back_an_address_an_attacker_registered(gateway: httpx.Client, google: FakeGoogle) -> None:
    # The attacker registers the victim's address (on the admin list) with a password of their own.
    victim = LINKED_ADMIN_EMAIL
    attacker = _ok(
        gateway.post("/api/v1/auth/register", json={"email": victim, "password": PASSWORD, "name": "Mallory"}), 201
    )
    assert attacker["user"]["role"] == "user" and not attacker["user"]["email_verified"]
    consent = {"kind": "terms", "version": "2026-01"}
    _ok(gateway.post("/api/v1/me/consents", json=consent, headers=_bearer(attacker["access_token"])))
    _ok(gateway.get("/api/v1/admin/users", headers=_bearer(attacker["access_token"])), 403)
    second = _ok(gateway.post("/api/v1/auth/login", json={"email": victim, "password": PASSWORD}))

    # The real owner signs in with Google: the account becomes theirs (verified, admin by the list).
    owner = _ok(gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(email=victim)}))
    assert owner["user"]["user_id"] == attacker["user"]["user_id"]
    assert owner["user"]["email_verified"] and owner["user"]["role"] == "admin"
    assert not owner["user"]["has_password"], "the unverified password must not survive the link"
    assert owner["user"]["name"] == "Google User" and owner["user"]["consents"] == {}
    _ok(gateway.get("/api/v1/admin/users", headers=_bearer(owner["access_token"])))

    # The attacker's password, refresh tokens and access tokens are all dead.
    login = gateway.post("/api/v1/auth/login", json={"email": victim, "password": PASSWORD})
    assert login.status_code == 401, login.text
    for pair in (attacker, second):
        refresh = gateway.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refresh.status_code == 401, refresh.text
        _refused_soon(gateway, pair["access_token"])
        assert gateway.get("/api/v1/admin/users", headers=_bearer(pair["access_token"])).status_code == 401
    # The owner's own session goes on.
    _ok(gateway.get("/api/v1/me", headers=_bearer(owner["access_token"])))
    _ok(gateway.post("/api/v1/auth/refresh", json={"refresh_token": owner["refresh_token"]}))


# ---------------------------------------------------------------- item 9


def test_parallel_failed_sign_ins_from_many_addresses_are_capped(gateway: httpx.Client, platform: Platform) -> None:
    email = _email("burst")
    _ok(gateway.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Burst"}), 201)
    url = platform.url("gateway")
    attempts = 4 * MAX_FAILURES_PER_ACCOUNT

    def guess(i: int) -> int:
        body = {"email": email, "password": f"wrong guess number {i}"}
        return httpx.post(
            f"{url}/api/v1/auth/login", json=body, headers={"x-forwarded-for": _ip()}, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(guess, range(attempts)))
    # Each guess is counted before its password is checked: no more than the limit ever get checked.
    assert statuses.count(401) <= MAX_FAILURES_PER_ACCOUNT, statuses
    assert statuses.count(429) >= attempts - MAX_FAILURES_PER_ACCOUNT, statuses
    assert set(statuses) <= {401, 429}, statuses


# ---------------------------------------------------------------- item 10


def test_role_and_plan_changes_end_earlier_tokens_powers(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    email = _email("demote")
    pair = _ok(gateway.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Demo"}), 201)
    user_id = pair["user"]["user_id"]
    _ok(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"role": "admin"}, headers=admin_headers))
    # The promotion ends the user-role token too (it is older than the change); the next one is an admin's.
    _refused_soon(gateway, pair["access_token"])
    admin = _ok(gateway.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}))
    assert jwt.decode(admin["access_token"], options={"verify_signature": False})["role"] == "admin"
    _ok(gateway.get("/api/v1/admin/users", headers=_bearer(admin["access_token"])))

    # Demoted: the admin token stops working within moments, not at its expiry.
    _ok(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"role": "user"}, headers=admin_headers))
    why = _refused_soon(gateway, admin["access_token"])
    assert "changed" in why, why
    assert gateway.get("/api/v1/admin/users", headers=_bearer(admin["access_token"])).status_code == 401
    user = _ok(gateway.post("/api/v1/auth/refresh", json={"refresh_token": admin["refresh_token"]}))
    _ok(gateway.get("/api/v1/admin/users", headers=_bearer(user["access_token"])), 403)
    _ok(gateway.get("/api/v1/auth/whoami", headers=_bearer(user["access_token"])))

    # A plan change likewise (the registrar flag travels in the token).
    pid = f"reg{uuid.uuid4().hex[:6]}"
    plan = {"plan_id": pid, "name": f"Reg {pid}", "daily_limits": {"execution": 5}, "may_register_problems": True}
    _ok(gateway.post("/api/v1/admin/plans", json=plan, headers=admin_headers), 201)

    def move(to: str) -> bool:
        resp = gateway.patch(f"/api/v1/admin/users/{user_id}", json={"plan_id": to}, headers=admin_headers)
        return resp.status_code == 200

    eventually(lambda: move(pid), timeout_s=30)
    _refused_soon(gateway, user["access_token"])
    registrar = _ok(gateway.post("/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]}))
    assert _ok(gateway.get("/api/v1/auth/whoami", headers=_bearer(registrar["access_token"])))["may_register"]
    assert move("free")
    _refused_soon(gateway, registrar["access_token"])


# ---------------------------------------------------------------- item 17


def test_a_plan_deleted_right_after_a_move_does_not_keep_the_user(
    gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    email = _email("orphan")
    pair = _ok(
        gateway.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Orphan"}), 201
    )
    user_id = pair["user"]["user_id"]
    raced = False
    for _ in range(5):
        pid = f"gone{uuid.uuid4().hex[:6]}"
        plan = {"plan_id": pid, "name": f"Gone {pid}", "daily_limits": {"execution": 77}, "may_register_problems": True}
        _ok(gateway.post("/api/v1/admin/plans", json=plan, headers=admin_headers), 201)
        eventually(
            lambda p=pid: (
                gateway.patch(f"/api/v1/admin/users/{user_id}", json={"plan_id": p}, headers=admin_headers).status_code
                == 200
            ),
            timeout_s=30,
        )
        # Deleted at once: ratelimit has not yet counted the user on the plan, so the delete wins.
        deleted = gateway.delete(f"/api/v1/admin/plans/{pid}", headers=admin_headers)
        if deleted.status_code == 204:
            raced = True
            break
        assert deleted.status_code == 409, deleted.text
        _ok(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"plan_id": "free"}, headers=admin_headers))
    assert raced, "the delete never won the race"

    # Accounts puts the user back on the default plan: no deleted plan's rights in new tokens,
    # and the plan accounts reports agrees with the quota ratelimit applies.
    def settled() -> dict[str, Any] | None:
        login = _ok(gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}))
        return login if login["user"]["plan_id"] == "free" else None

    login = eventually(settled, timeout_s=30)
    claims = jwt.decode(login["access_token"], options={"verify_signature": False})
    assert claims["plan"] == "free" and not claims["may_register"]
    assert not (login["user"]["plan_limits"] or {}).get("may_register_problems")
    usage = _ok(gateway.get("/api/v1/me/usage", headers=_bearer(login["access_token"])))
    assert usage["plan_id"] == "free"
    # And nobody can be moved onto the deleted plan any more.
    refused = gateway.patch(f"/api/v1/admin/users/{user_id}", json={"plan_id": pid}, headers=admin_headers)
    assert refused.status_code == 404, refused.text
