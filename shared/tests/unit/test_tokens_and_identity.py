from __future__ import annotations

import time

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.http import create_app
from algoitny_shared.identity import IDENTITY_HEADER, CurrentIdentity, Identity, IdentitySigner
from algoitny_shared.settings import ServiceSettings

KEY = "k" * 64
SECRET = ServiceSettings().internal_secret.get_secret_value()


def _refused(keyring: tokens.Keyring, token: str) -> ErrorCode:
    with pytest.raises(AppError) as err:
        tokens.verify(keyring, token)
    return err.value.code


def test_access_token_round_trip_carries_kid_and_jti() -> None:
    keyring = tokens.Keyring(KEY)
    token, claims = tokens.issue(keyring, user_id="u1", role="user", plan="free", ttl_s=60)
    assert jwt.get_unverified_header(token)["kid"] == keyring.current_kid
    assert tokens.verify(keyring, token) == claims and len(claims.jti) == 32


def test_rotation_previous_keys_verify_only() -> None:
    old, new = tokens.Keyring(KEY), tokens.Keyring("n" * 32, [KEY])
    old_token, _ = tokens.issue(old, user_id="u", role="user", plan="free", ttl_s=60)
    assert tokens.verify(new, old_token).sub == "u"
    new_token, _ = tokens.issue(new, user_id="u", role="user", plan="free", ttl_s=60)
    assert jwt.get_unverified_header(new_token)["kid"] == new.current_kid != old.current_kid
    assert _refused(old, new_token) is ErrorCode.UNAUTHENTICATED
    with pytest.raises(ValueError):
        tokens.Keyring("short")


def test_alg_none_expired_and_claimless_tokens_are_refused() -> None:
    keyring = tokens.Keyring(KEY)
    kid, key = keyring.signing_key()
    now = int(time.time())
    claims = {"sub": "u", "role": "admin", "plan": "x", "jti": "j", "iat": now, "exp": now + 60}
    claims.update(iss=tokens.ISSUER, aud=tokens.AUDIENCE, typ="access")
    assert tokens.verify(keyring, jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})).sub == "u"
    for bad in (
        jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        jwt.encode({**claims, "exp": now - 1}, key, algorithm="HS256", headers={"kid": kid}),
        jwt.encode({**claims, "aud": "other"}, key, algorithm="HS256", headers={"kid": kid}),
        jwt.encode({**claims, "typ": "refresh"}, key, algorithm="HS256", headers={"kid": kid}),
        jwt.encode({k: v for k, v in claims.items() if k != "jti"}, key, algorithm="HS256", headers={"kid": kid}),
        jwt.encode(claims, key, algorithm="HS512", headers={"kid": kid}),
        jwt.encode(claims, key, algorithm="HS256", headers={"kid": "someone-elses"}),
        "x" * 5000,
    ):
        assert _refused(keyring, bad) is ErrorCode.UNAUTHENTICATED


def test_identity_assertion_is_bound_to_request_and_time() -> None:
    signer = IdentitySigner(SECRET)
    who = Identity(user_id="u1", role="user", plan="free", token_id="t", client_ip="1.2.3.4")
    value = signer.sign(who, "post", "/problems/a b/1")
    assert signer.verify(value, "POST", "/problems/a%20b/1") == who
    for method, path, now, other in (
        ("GET", "/problems/a b/1", None, signer),
        ("POST", "/problems", None, signer),
        ("POST", "/problems/a b/1", time.time() + 60, signer),
        ("POST", "/problems/a b/1", None, IdentitySigner("o" * 32)),
    ):
        with pytest.raises(AppError) as err:
            other.verify(value, method, path, now=now)
        assert err.value.code is ErrorCode.UNAUTHENTICATED
    body, mac = value.split(".")
    with pytest.raises(AppError):
        signer.verify(body[:-2] + "AA." + mac, "POST", "/problems/a b/1")


def _service() -> TestClient:
    app: FastAPI = create_app(ServiceSettings(service_name="t"), title="t")

    @app.get("/who")
    async def who(identity: CurrentIdentity) -> Identity:
        return identity

    return TestClient(app)


def test_services_refuse_bare_identity_headers_and_trust_only_signed_assertions() -> None:
    client = _service()
    assert client.get("/who").json()["role"] == "anonymous"
    for headers in ({"x-algoitny-user": "admin"}, {"x-algoitny-role": "admin"}, {IDENTITY_HEADER: "nope"}):
        resp = client.get("/who", headers=headers)
        assert resp.status_code == 401 and resp.json()["code"] == "UNAUTHENTICATED"
    signed = IdentitySigner(SECRET).sign(Identity(user_id="a", role="admin", plan="admin"), "GET", "/who")
    assert client.get("/who", headers={IDENTITY_HEADER: signed}).json()["role"] == "admin"


def test_the_plans_may_register_flag_decides_problem_writes() -> None:
    assert Identity(user_id="u", role="user", plan="studio", may_register=True).may_register_problems
    assert Identity(user_id="u", role="admin", plan="free").may_register_problems
    assert not Identity(user_id="u", role="user", plan="free").may_register_problems
    # The plan id alone decides nothing any more.
    assert not Identity(user_id="u", role="user", plan="registrar").may_register_problems
    assert not Identity(role="anonymous", plan="studio", may_register=True).may_register_problems


def test_may_register_travels_in_the_token_and_the_signed_identity() -> None:
    keyring = tokens.Keyring(KEY)
    token, _ = tokens.issue(keyring, user_id="u1", role="user", plan="studio", ttl_s=60, may_register=True)
    assert tokens.verify(keyring, token).may_register
    plain, _ = tokens.issue(keyring, user_id="u1", role="user", plan="free", ttl_s=60)
    assert not tokens.verify(keyring, plain).may_register
    signer = IdentitySigner(SECRET)
    who = Identity(user_id="u1", role="user", plan="studio", may_register=True)
    assert signer.verify(signer.sign(who, "POST", "/problems"), "POST", "/problems").may_register_problems
