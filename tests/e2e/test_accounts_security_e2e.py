"""Accounts and gateway security end to end, on moto and Kafka, through the gateway.

Sign-up, sign-in (password, Google), refresh rotation with reuse detection, logout,
admin routes, throttling, and every attack of the accounts issue: bad tokens, swapped
token kinds, forged identity headers to the gateway and straight to services.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from support.e2e_config import ADMIN_EMAIL, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from support.google_keys import FakeGoogle
from support.kafka_tools import read_topic
from support.polling import eventually

from algoitny_accounts.adapters.tables import USERS
from algoitny_accounts.settings import AccountsSettings
from algoitny_devtools.platform import Platform
from algoitny_shared import tokens
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import ACCOUNT_EVENTS

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery"


def _ip() -> str:
    """A client address of our own (the gateway trusts one proxy hop in the e2e stack)."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def _email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@e2e-mail.dev"


def _register(gateway: httpx.Client, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    resp = gateway.post("/api/v1/auth/register", json={"email": email or _email(), "password": password, "name": "Ann"})
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _expect(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    if code:
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert body["code"] == code, body
    return body


def _keys() -> tokens.SigningKeys:
    return AccountsSettings().signing_keys()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- the happy paths


def test_register_login_me_consents_refresh_logout(gateway: httpx.Client) -> None:
    email = _email()
    pair = _register(gateway, email.upper())  # e-mails are normalised
    user = pair["user"]
    assert user["email"] == email and user["role"] == "user" and user["plan_id"] == "free"
    assert user["user_id"].startswith("u_") and "password_hash" not in user
    assert pair["refresh_token"].startswith("rt_") and pair["expires_in"] > 0

    me = _expect(gateway.get("/api/v1/me", headers=_bearer(pair["access_token"])), 200)
    assert me["user_id"] == user["user_id"]
    whoami = _expect(gateway.get("/api/v1/auth/whoami", headers=_bearer(pair["access_token"])), 200)
    assert whoami["user_id"] == user["user_id"] and whoami["plan"] == "free" and whoami["token_id"]

    patched = _expect(gateway.patch("/api/v1/me", json={"name": "Ann B"}, headers=_bearer(pair["access_token"])), 200)
    assert patched["name"] == "Ann B"
    consented = _expect(
        gateway.post(
            "/api/v1/me/consents", json={"kind": "terms", "version": "2026-01"}, headers=_bearer(pair["access_token"])
        ),
        200,
    )
    assert consented["consents"]["terms"]["version"] == "2026-01"

    login = _expect(gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}), 200)
    assert login["user"]["user_id"] == user["user_id"]

    # Refresh rotates: the new pair works, the presented token is spent.
    first = login["refresh_token"]
    second = _expect(gateway.post("/api/v1/auth/refresh", json={"refresh_token": first}), 200)
    assert second["refresh_token"] != first
    assert gateway.get("/api/v1/me", headers=_bearer(second["access_token"])).status_code == 200
    third = _expect(gateway.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 200)

    # Reuse of a spent token revokes the whole family: the latest token dies too.
    _expect(gateway.post("/api/v1/auth/refresh", json={"refresh_token": first}), 401, "UNAUTHENTICATED")
    _expect(
        gateway.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}), 401, "UNAUTHENTICATED"
    )
    # The revoked family's access tokens stop working at the gateway too, not at their expiry.
    _refused_soon(gateway, third["access_token"], "used twice")
    # Other sessions (the sign-up's family) are untouched; logout revokes that one.
    assert gateway.get("/api/v1/me", headers=_bearer(pair["access_token"])).status_code == 200
    assert gateway.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    _expect(gateway.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401, "UNAUTHENTICATED")
    _refused_soon(gateway, pair["access_token"], "signed out")
    _expect(gateway.post("/api/v1/auth/logout", json={"refresh_token": "rt_" + "x" * 43}), 401, "UNAUTHENTICATED")


def _refused_soon(gateway: httpx.Client, access_token: str, why: str) -> None:
    """Revocations reach every gateway through accounts' events: within moments, not 15 minutes."""

    def refused() -> bool:
        resp = gateway.get("/api/v1/auth/whoami", headers=_bearer(access_token))
        return resp.status_code == 401 and why in resp.json()["detail"]

    eventually(refused, timeout_s=15)


def test_password_policy_and_bad_bodies(gateway: httpx.Client) -> None:
    email = _email()
    for weak in ("short1", "password123", "aaaaaaaaaaaaaa", email.split("@")[0] + "12345"):
        body = _expect(
            gateway.post("/api/v1/auth/register", json={"email": email, "password": weak, "name": "A"}),
            422,
            "VALIDATION_FAILED",
        )
        assert body["errors"][0]["loc"] == ["body", "password"]
    json_headers = {"content-type": "application/json"}
    _expect(gateway.post("/api/v1/auth/register", content=b'{"email": ', headers=json_headers), 400, "MALFORMED_JSON")
    _expect(
        gateway.post("/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD, "name": "A"}),
        422,
        "VALIDATION_FAILED",
    )
    _expect(
        gateway.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "A", "role": "admin"}
        ),
        422,
        "VALIDATION_FAILED",
    )
    _expect(gateway.post("/api/v1/auth/login", json={"email": email, "password": "x" * 129}), 422, "VALIDATION_FAILED")
    _expect(
        gateway.post("/api/v1/auth/register", content=b"x" * (2 * 1024 * 1024), headers=json_headers),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    _expect(gateway.post("/api/v1/auth/google", json={"id_token": "x" * 9000}), 422, "VALIDATION_FAILED")
    _expect(gateway.post("/api/v1/auth/refresh", json={}), 422, "VALIDATION_FAILED")
    # Nothing was created by any of the refusals; then the same e-mail registers once only.
    _register(gateway, email)
    _expect(
        gateway.post("/api/v1/auth/register", json={"email": f" {email.upper()} ", "password": PASSWORD, "name": "B"}),
        409,
        "ALREADY_EXISTS",
    )


def test_wrong_password_answers_like_an_unknown_email(gateway: httpx.Client) -> None:
    email = _email()
    _register(gateway, email)
    ip = {"x-forwarded-for": _ip()}
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    bodies = {}
    for _ in range(5):
        for kind, who in (("wrong", email), ("unknown", _email("nobody"))):
            started = time.perf_counter()
            resp = gateway.post("/api/v1/auth/login", json={"email": who, "password": "wrong password!"}, headers=ip)
            timings[kind].append(time.perf_counter() - started)
            body = _expect(resp, 401, "UNAUTHENTICATED")
            bodies[kind] = (body["detail"], body["title"])
    assert bodies["wrong"] == bodies["unknown"]
    # Both paths run one argon2id verification. The fastest of several tries is the least
    # disturbed by other load. Without the dummy hash the unknown path would take a few percent
    # of the other (no argon2 at all); the band is wide because a loaded 2-core machine (the
    # parallel CI sessions) stretches single tries by 2-3x.
    wrong, unknown = min(timings["wrong"]), min(timings["unknown"])
    assert 0.25 * wrong <= unknown <= 4 * wrong, timings


# ---------------------------------------------------------------- tokens that must not work


def _forged_tokens(pair: dict[str, Any]) -> dict[str, str]:
    keys = _keys()
    kid = keys.current_kid
    public_x = keys.jwks()["keys"][0]["x"]
    user_id = pair["user"]["user_id"]
    now = int(time.time())
    base = {
        "sub": user_id,
        "role": "admin",
        "plan": "admin",
        "jti": "j",
        "iat": now - 7200,
        "exp": now - 3600,
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "typ": "access",
    }
    header, payload, signature = pair["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    elevated = _b64(json.dumps({**claims, "role": "admin"}).encode())
    other = tokens.SigningKeys.generate()
    return {
        "expired": keys.sign(base),
        "tampered": f"{header}.{elevated}.{signature}",
        "alg_none": jwt.encode({**base, "exp": now + 600}, None, algorithm="none", headers={"kid": kid}),
        "alg_none_unsigned": f"{_b64(json.dumps({'alg': 'none', 'kid': kid}).encode())}.{elevated}.",
        "wrong_key": tokens.issue(other, user_id=user_id, role="admin", plan="admin", ttl_s=600)[0],
        "wrong_key_same_kid": jwt.encode(
            {**base, "exp": now + 600}, other._current, algorithm="EdDSA", headers={"kid": kid}
        ),
        # HMAC keyed with the published public key: the algorithm-confusion attack.
        "hs256_public_key": jwt.encode({**base, "exp": now + 600}, public_x, algorithm="HS256", headers={"kid": kid}),
        "no_kid": jwt.encode({**base, "exp": now + 600}, other._current, algorithm="EdDSA"),
        "not_access": keys.sign({**base, "exp": now + 600, "typ": "refresh"}),
        "refresh_as_access": pair["refresh_token"],
        "garbage": "a.b.c",
    }


def test_bad_tokens_are_refused_and_change_nothing(gateway: httpx.Client) -> None:
    pair = _register(gateway)
    for name, token in _forged_tokens(pair).items():
        for method, path, body in (
            ("GET", "/api/v1/me", None),
            ("PATCH", "/api/v1/me", {"name": "Mallory"}),
            ("GET", "/api/v1/admin/users", None),
            ("POST", "/api/v1/problems", {"platform": "e2e", "problem_id": "forged", "title": "x"}),
        ):
            resp = gateway.request(method, path, json=body, headers=_bearer(token))
            assert resp.status_code == 401, (name, path, resp.text)
            assert resp.json()["code"] == "UNAUTHENTICATED"
    # An access token is no refresh token either.
    _expect(gateway.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}), 401, "UNAUTHENTICATED")
    _expect(gateway.post("/api/v1/auth/logout", json={"refresh_token": pair["access_token"]}), 401, "UNAUTHENTICATED")
    me = _expect(gateway.get("/api/v1/me", headers=_bearer(pair["access_token"])), 200)
    assert me["name"] == "Ann" and me["role"] == "user"
    assert gateway.get("/api/v1/problems/e2e/forged").status_code == 404


def test_tokens_verify_through_the_published_jwks_and_unknown_keys_do_not(
    platform: Platform, gateway: httpx.Client
) -> None:
    """Asymmetric access tokens: the JWKS holds public keys only; a key not in it verifies nothing."""
    document = _expect(gateway.get("/.well-known/jwks.json"), 200)
    assert document == _expect(httpx.get(f"{platform.url('accounts')}/.well-known/jwks.json"), 200)
    assert [k["kid"] for k in document["keys"]] == [_keys().current_kid]
    assert all(set(k) == {"kty", "crv", "x", "kid", "alg", "use"} for k in document["keys"]), "no private part"
    signed, _ = tokens.issue(_keys(), user_id="u_rot", role="user", plan="free", ttl_s=600)
    assert _expect(gateway.get("/api/v1/auth/whoami", headers=_bearer(signed)), 200)["user_id"] == "u_rot"
    # A key accounts does not publish (e.g. a rotated-out one, or anyone else's) is refused.
    stranger, _ = tokens.issue(tokens.SigningKeys.generate(), user_id="u_rot", role="admin", plan="free", ttl_s=600)
    body = _expect(gateway.get("/api/v1/auth/whoami", headers=_bearer(stranger)), 401, "UNAUTHENTICATED")
    assert "unknown key" in body["detail"]


# ---------------------------------------------------------------- forged identity


def test_forged_identity_headers_at_the_gateway_are_ignored(gateway: httpx.Client) -> None:
    user = _register(gateway)
    forged_assertion = IdentitySigner("not-the-internal-secret-not-the-internal").sign(
        Identity(user_id="operator", role="admin", plan="admin"), "POST", "/problems"
    )
    forged = {
        "x-algoitny-user": "operator",
        "x-algoitny-role": "admin",
        IDENTITY_HEADER: forged_assertion,
    }
    problem = {"platform": "e2e", "problem_id": f"f{uuid.uuid4().hex[:6]}", "title": "Forged", "status": "completed"}
    _expect(gateway.post("/api/v1/problems", json=problem, headers=forged), 401, "UNAUTHENTICATED")
    _expect(gateway.get("/api/v1/admin/users", headers=forged), 401, "UNAUTHENTICATED")
    _expect(gateway.get("/api/v1/me", headers=forged), 401, "UNAUTHENTICATED")
    as_user = {**forged, **_bearer(user["access_token"])}
    _expect(gateway.post("/api/v1/problems", json=problem, headers=as_user), 403, "FORBIDDEN")
    _expect(gateway.get("/api/v1/admin/users", headers=as_user), 403, "FORBIDDEN")
    # The headers changed nothing: the caller is still the user the token names.
    assert gateway.get("/api/v1/me", headers=as_user).json()["user_id"] == user["user"]["user_id"]
    assert gateway.get(f"/api/v1/problems/e2e/{problem['problem_id']}").status_code == 404


def test_forged_identity_straight_to_a_service_is_refused(platform: Platform, gateway: httpx.Client) -> None:
    secret = ServiceSettings().internal_secret.get_secret_value()
    admin = Identity(user_id="operator", role="admin", plan="admin")
    pid = f"s{uuid.uuid4().hex[:6]}"
    problem = {"platform": "e2e", "problem_id": pid, "title": "Direct", "status": "completed"}
    problems_url = f"{platform.url('problems')}/problems"
    accounts_url = f"{platform.url('accounts')}/admin/users"
    refused = {
        "bare headers": {"x-algoitny-user": "operator", "x-algoitny-role": "admin"},
        "wrong secret": {IDENTITY_HEADER: IdentitySigner("z" * 40).sign(admin, "POST", "/problems")},
        "other route": {IDENTITY_HEADER: IdentitySigner(secret).sign(admin, "POST", "/problems/e2e/x")},
        "other method": {IDENTITY_HEADER: IdentitySigner(secret).sign(admin, "GET", "/problems")},
        "expired": {IDENTITY_HEADER: IdentitySigner(secret).sign(admin, "POST", "/problems", now=time.time() - 60)},
        "garbage": {IDENTITY_HEADER: "e30.AAAA"},
        "valid plus bare": {
            IDENTITY_HEADER: IdentitySigner(secret).sign(Identity(), "POST", "/problems"),
            "x-algoitny-role": "admin",
        },
    }
    for name, headers in refused.items():
        resp = httpx.post(problems_url, json=problem, headers=headers, timeout=10)
        assert resp.status_code == 401, (name, resp.text)
        assert resp.json()["code"] == "UNAUTHENTICATED"
    for headers in (refused["bare headers"], refused["wrong secret"]):
        assert httpx.get(accounts_url, headers=headers, timeout=10).status_code == 401
    # An anonymous request (no assertion) is just anonymous: no writes.
    assert httpx.post(problems_url, json=problem, timeout=10).status_code == 401
    assert gateway.get(f"/api/v1/problems/e2e/{pid}").status_code == 404
    # The one thing that works is a correctly signed, fresh assertion for this very request.
    good = {IDENTITY_HEADER: IdentitySigner(secret).sign(admin, "POST", "/problems")}
    assert httpx.post(problems_url, json=problem, headers=good, timeout=10).status_code == 201


# ---------------------------------------------------------------- roles, plans, admin routes


def _login(gateway: httpx.Client, email: str) -> dict[str, Any]:
    return _expect(gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}), 200)


def test_admin_routes_registrar_plan_events_and_deactivation(
    gateway: httpx.Client, admin_headers: dict[str, str], bootstrap: str
) -> None:
    email = _email("reg")
    pair = _register(gateway, email)
    user_id = pair["user"]["user_id"]
    as_user = _bearer(pair["access_token"])
    problem = {"platform": "e2e", "problem_id": f"r{uuid.uuid4().hex[:6]}", "title": "By a registrar"}

    # A plain user: no admin routes, no problem writes.
    _expect(gateway.get("/api/v1/admin/users", headers=as_user), 403, "FORBIDDEN")
    _expect(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"role": "admin"}, headers=as_user), 403, "FORBIDDEN")
    _expect(gateway.post("/api/v1/problems", json=problem, headers=as_user), 403, "FORBIDDEN")
    _expect(gateway.get("/api/v1/admin/users"), 401, "UNAUTHENTICATED")

    # A plan that may register problems (its flag, not its name, decides); accounts learns it from
    # ratelimit's PlanCreated event. The admin moves the user to it: the next token may register.
    plan = {
        "plan_id": "registrar",
        "name": "Registrar",
        "daily_limits": {"execution": 100, "hint": 10},
        "may_register_problems": True,
    }
    assert gateway.post("/api/v1/admin/plans", json=plan, headers=admin_headers).status_code in (201, 409)

    def moved() -> dict[str, Any] | None:
        resp = gateway.patch(f"/api/v1/admin/users/{user_id}", json={"plan_id": "registrar"}, headers=admin_headers)
        return resp.json() if resp.status_code == 200 else None  # type: ignore[no-any-return]

    changed = eventually(moved, timeout_s=30)
    assert changed["plan_limits"]["may_register_problems"] is True
    assert changed["plan_id"] == "registrar"
    registrar = _login(gateway, email)
    _expect(gateway.post("/api/v1/problems", json=problem, headers=_bearer(registrar["access_token"])), 201)

    # Listing: by plan, newest first, with a cursor.
    second = _register(gateway)
    _expect(
        gateway.patch(
            f"/api/v1/admin/users/{second['user']['user_id']}", json={"plan_id": "registrar"}, headers=admin_headers
        ),
        200,
    )
    page1 = _expect(
        gateway.get("/api/v1/admin/users", params={"plan": "registrar", "limit": 1}, headers=admin_headers), 200
    )
    assert [u["user_id"] for u in page1["items"]] == [second["user"]["user_id"]] and page1["next_cursor"]
    page2 = _expect(
        gateway.get(
            "/api/v1/admin/users",
            params={"plan": "registrar", "limit": 1, "cursor": page1["next_cursor"]},
            headers=admin_headers,
        ),
        200,
    )
    assert user_id in [u["user_id"] for u in page2["items"]]
    everyone = _expect(gateway.get("/api/v1/admin/users", params={"limit": 100}, headers=admin_headers), 200)
    assert everyone["items"][0]["created_at"] >= everyone["items"][-1]["created_at"]
    _expect(
        gateway.get(
            "/api/v1/admin/users", params={"plan": "free", "cursor": page1["next_cursor"]}, headers=admin_headers
        ),
        400,
        "INVALID_CURSOR",
    )
    _expect(gateway.get("/api/v1/admin/users", params={"limit": 1000}, headers=admin_headers), 422)
    _expect(gateway.patch("/api/v1/admin/users/nope", json={"active": False}, headers=admin_headers), 422)
    _expect(gateway.patch(f"/api/v1/admin/users/u_{'A' * 22}", json={"active": False}, headers=admin_headers), 404)
    _expect(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"role": "owner"}, headers=admin_headers), 422)

    # Role change, then deactivation: refresh fails at once, sign-in is refused.
    _expect(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"role": "admin"}, headers=admin_headers), 200)
    _expect(gateway.patch(f"/api/v1/admin/users/{user_id}", json={"active": False}, headers=admin_headers), 200)
    _expect(
        gateway.post("/api/v1/auth/refresh", json={"refresh_token": registrar["refresh_token"]}),
        401,
        "UNAUTHENTICATED",
    )
    _expect(gateway.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}), 403, "FORBIDDEN")
    # Accounts refuses the deactivated user at once; the gateway refuses the token itself moments later.
    assert gateway.get("/api/v1/me", headers=_bearer(registrar["access_token"])).status_code in (401, 403)
    _refused_soon(gateway, registrar["access_token"], "deactivated")

    settings = ServiceSettings()

    def mine(record: Any) -> bool:
        return record.key is not None and record.key.decode() == user_id

    records = asyncio.run(
        read_topic(bootstrap, ACCOUNT_EVENTS.physical(settings.namespace), expect=4, timeout_s=20, match=mine)
    )
    types = [json.loads(r.value)["event_type"] for r in records]
    assert types[:4] == [
        "accounts.UserRegistered",
        "accounts.UserPlanChanged",
        "accounts.UserRoleChanged",
        "accounts.UserDeactivated",
    ], types
    assert all(b"@" not in r.value for r in records), "no e-mail addresses in events"


# ---------------------------------------------------------------- throttling


def test_failed_sign_ins_are_throttled_per_account_and_per_address(gateway: httpx.Client) -> None:
    email = _email("victim")
    _register(gateway, email)
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        resp = gateway.post(
            "/api/v1/auth/login",
            json={"email": email, "password": "wrong password!"},
            headers={"x-forwarded-for": _ip()},
        )
        _expect(resp, 401, "UNAUTHENTICATED")
    # The account is locked for the window, from any address and even with the right password.
    locked = gateway.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers={"x-forwarded-for": _ip()}
    )
    _expect(locked, 429, "RATE_LIMITED")
    # Counted in a sliding window of 900 s: the five decay out of it, the first a fifth of a window
    # after its fixed window ends (so, failing near that window's start, up to 900 + 180 s).
    assert 1 <= int(locked.headers["retry-after"]) <= 900 + 900 // MAX_FAILURES_PER_ACCOUNT

    spray = {"x-forwarded-for": _ip()}
    for _ in range(MAX_FAILURES_PER_ADDRESS):
        resp = gateway.post(
            "/api/v1/auth/login", json={"email": _email("spray"), "password": "wrong password!"}, headers=spray
        )
        _expect(resp, 401, "UNAUTHENTICATED")
    other = _email("other")
    _register(gateway, other)
    blocked = gateway.post("/api/v1/auth/login", json={"email": other, "password": PASSWORD}, headers=spray)
    _expect(blocked, 429, "RATE_LIMITED")
    assert int(blocked.headers["retry-after"]) >= 1
    # Another address is unaffected.
    _expect(
        gateway.post(
            "/api/v1/auth/login", json={"email": other, "password": PASSWORD}, headers={"x-forwarded-for": _ip()}
        ),
        200,
    )


# ---------------------------------------------------------------- Google sign-in


def test_google_sign_in_creates_links_and_refuses_bad_tokens(gateway: httpx.Client, google: FakeGoogle) -> None:
    sub = uuid.uuid4().hex
    email = _email("g")
    first = _expect(gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(sub=sub, email=email)}), 200)
    assert first["user"]["email"] == email and first["user"]["google_linked"] and not first["user"]["has_password"]
    again = _expect(
        gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(sub=sub, email=email, name="New Name")}),
        200,
    )
    assert again["user"]["user_id"] == first["user"]["user_id"] and again["user"]["name"] == "New Name"

    # A password account is linked by e-mail only when Google verified the address.
    pw_email = _email("link")
    pw = _register(gateway, pw_email)
    _expect(
        gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(email=pw_email, email_verified=False)}),
        403,
        "FORBIDDEN",
    )
    linked = _expect(gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(email=pw_email)}), 200)
    assert linked["user"]["user_id"] == pw["user"]["user_id"] and linked["user"]["google_linked"]
    _expect(gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(email=pw_email)}), 409, "CONFLICT")

    # Admin e-mails from configuration become admins (Google verified the address).
    boss = _expect(gateway.post("/api/v1/auth/google", json={"id_token": google.id_token(email=ADMIN_EMAIL)}), 200)
    assert boss["user"]["role"] == "admin" and boss["user"]["plan_id"] == "admin"
    _expect(gateway.get("/api/v1/admin/users", headers=_bearer(boss["access_token"])), 200)
    # ... but not by a password sign-up with the same address (nobody proved owning it).
    _expect(
        gateway.post("/api/v1/auth/register", json={"email": ADMIN_EMAIL, "password": PASSWORD, "name": "x"}),
        409,
        "ALREADY_EXISTS",
    )

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    bad = {
        "wrong audience": google.id_token(aud="someone-else.apps"),
        "wrong issuer": google.id_token(iss="https://evil.example"),
        "expired": google.id_token(iat=now - 7200, exp=now - 3600),
        "wrong key, known kid": google.id_token(key=stranger),
        "unknown kid": google.id_token(key=stranger, kid="not-a-google-kid"),
        "hs256 confusion": jwt.encode(
            {
                "iss": "https://accounts.google.com",
                "aud": google.client_id,
                "sub": "s",
                "email": _email(),
                "iat": now,
                "exp": now + 600,
            },
            "secret" * 8,
            algorithm="HS256",
            headers={"kid": google.kid},
        ),
        "garbage": "x" * 40,
    }
    for name, token in bad.items():
        resp = gateway.post("/api/v1/auth/google", json={"id_token": token})
        assert resp.status_code == 401, (name, resp.text)
        assert resp.json()["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- concurrency


def test_twenty_parallel_sign_ups_with_one_email_make_one_account(gateway: httpx.Client, platform: Platform) -> None:
    email = _email("race")
    url = platform.url("gateway")

    def sign_up(i: int) -> int:
        body = {"email": email, "password": PASSWORD, "name": f"Racer {i}"}
        return httpx.post(f"{url}/api/v1/auth/register", json=body, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(sign_up, range(20)))
    assert sorted(statuses) == [201] + [409] * 19, statuses

    settings = ServiceSettings()
    client = dynamodb(settings)

    def users_with_email() -> list[Any] | None:
        items = client.query(
            TableName=USERS.physical(settings.namespace),
            IndexName="EmailIndex",
            KeyConditionExpression="email = :e",
            ExpressionAttributeValues={":e": {"S": email}},
        )["Items"]
        return items or None

    assert len(eventually(users_with_email)) == 1
    guard = client.get_item(TableName=USERS.physical(settings.namespace), Key={"pk": {"S": f"EMAIL#{email}"}})
    assert guard["Item"]["user_id"]["S"] == users_with_email()[0]["user_id"]["S"]  # type: ignore[index]
