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

KEY = tokens.generate_key()
SECRET = ServiceSettings().internal_secret.get_secret_value()


def _refused(keys: tokens.KeySource, token: str) -> ErrorCode:
    with pytest.raises(AppError) as err:
        tokens.verify(keys, token)
    return err.value.code


def test_access_token_round_trip_carries_kid_jti_and_user_version() -> None:
    keys = tokens.SigningKeys.parse(KEY)
    token, claims = tokens.issue(keys, user_id="u1", role="user", plan="free", ttl_s=60, user_version=7)
    header = jwt.get_unverified_header(token)
    assert header["kid"] == keys.current_kid and header["alg"] == "EdDSA"
    assert tokens.verify(keys, token) == claims and len(claims.jti) == 32 and claims.ver == 7
    # The gateway verifies with the public JWKS alone, which holds no private part.
    public = tokens.VerificationKeys.from_jwks(keys.jwks())
    assert tokens.verify(public, token) == claims
    assert all(set(k) == {"kty", "crv", "x", "kid", "alg", "use"} for k in keys.jwks()["keys"])


def test_rotation_previous_keys_verify_only_until_dropped() -> None:
    new_key = tokens.generate_key()
    old, rotated = tokens.SigningKeys.parse(KEY), tokens.SigningKeys.parse(new_key, KEY)
    old_token, _ = tokens.issue(old, user_id="u", role="user", plan="free", ttl_s=60)
    published = tokens.VerificationKeys.from_jwks(rotated.jwks())
    assert tokens.verify(published, old_token).sub == "u"
    new_token, _ = tokens.issue(rotated, user_id="u", role="user", plan="free", ttl_s=60)
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.current_kid != old.current_kid
    assert rotated.jwks()["keys"][0]["kid"] == rotated.current_kid  # the signing key first
    assert _refused(tokens.VerificationKeys.from_jwks(old.jwks()), new_token) is ErrorCode.UNAUTHENTICATED
    dropped = tokens.VerificationKeys.from_jwks(tokens.SigningKeys.parse(new_key).jwks())
    assert _refused(dropped, old_token) is ErrorCode.UNAUTHENTICATED
    for bad in ("short", "x" * 40, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"):
        with pytest.raises(ValueError):
            tokens.SigningKeys.parse(bad)


def test_a_jwks_entry_must_be_the_key_its_id_names() -> None:
    keys, other = tokens.SigningKeys.parse(KEY), tokens.SigningKeys.generate()
    swapped = {**other.jwks()["keys"][0], "kid": keys.current_kid}
    assert len(tokens.VerificationKeys.from_jwks({"keys": [swapped, {"kty": "oct", "k": "AAAA"}, "junk"]})) == 0


def test_alg_none_confusion_expired_and_claimless_tokens_are_refused() -> None:
    keys = tokens.SigningKeys.parse(KEY)
    kid = keys.current_kid
    public_x = keys.jwks()["keys"][0]["x"]
    now = int(time.time())
    claims = {"sub": "u", "role": "admin", "plan": "x", "jti": "j", "iat": now, "exp": now + 60}
    claims.update(iss=tokens.ISSUER, aud=tokens.AUDIENCE, typ="access")
    assert tokens.verify(keys, keys.sign(claims)).sub == "u"
    for bad in (
        jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        keys.sign({**claims, "exp": now - 1}),
        keys.sign({**claims, "aud": "other"}),
        keys.sign({**claims, "typ": "refresh"}),
        keys.sign({k: v for k, v in claims.items() if k != "jti"}),
        # HMAC keyed with the public key (algorithm confusion) or with anything else.
        jwt.encode(claims, public_x, algorithm="HS256", headers={"kid": kid}),
        jwt.encode(claims, "k" * 64, algorithm="HS256", headers={"kid": kid}),
        tokens.SigningKeys.generate().sign(claims),
        "x" * 5000,
    ):
        assert _refused(keys, bad) is ErrorCode.UNAUTHENTICATED


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


def test_the_identity_is_checked_on_the_event_loop_not_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync dependency runs on a thread of its own (two thread switches per request on every
    service, for an HMAC check of microseconds): the caller's identity is checked in the loop."""
    import threading

    import fastapi.dependencies.utils as solving

    hops: list[object] = []
    real = solving.run_in_threadpool

    async def counted(func: object, *args: object, **kwargs: object) -> object:
        hops.append(func)
        return await real(func, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(solving, "run_in_threadpool", counted)
    app: FastAPI = create_app(ServiceSettings(service_name="t"), title="t")
    threads: list[str] = []

    @app.get("/who")
    async def who(identity: CurrentIdentity) -> Identity:
        threads.append(threading.current_thread().name)
        return identity

    signed = IdentitySigner(SECRET).sign(Identity(user_id="a", role="user", plan="free"), "GET", "/who")
    with TestClient(app) as client:
        assert client.get("/who", headers={IDENTITY_HEADER: signed}).json()["user_id"] == "a"
        assert client.get("/who", headers={IDENTITY_HEADER: "nope"}).status_code == 401
    assert hops == [] and len(threads) == 1


def test_the_plans_may_register_flag_decides_problem_writes() -> None:
    assert Identity(user_id="u", role="user", plan="studio", may_register=True).may_register_problems
    assert Identity(user_id="u", role="admin", plan="free").may_register_problems
    assert not Identity(user_id="u", role="user", plan="free").may_register_problems
    # The plan id alone decides nothing any more.
    assert not Identity(user_id="u", role="user", plan="registrar").may_register_problems
    assert not Identity(role="anonymous", plan="studio", may_register=True).may_register_problems


def test_may_register_travels_in_the_token_and_the_signed_identity() -> None:
    keyring = tokens.SigningKeys.parse(KEY)
    token, _ = tokens.issue(keyring, user_id="u1", role="user", plan="studio", ttl_s=60, may_register=True)
    assert tokens.verify(keyring, token).may_register
    plain, _ = tokens.issue(keyring, user_id="u1", role="user", plan="free", ttl_s=60)
    assert not tokens.verify(keyring, plain).may_register
    signer = IdentitySigner(SECRET)
    who = Identity(user_id="u1", role="user", plan="studio", may_register=True)
    assert signer.verify(signer.sign(who, "POST", "/problems"), "POST", "/problems").may_register_problems


def test_the_unverified_key_id_is_the_headers_and_nothing_for_what_is_no_token() -> None:
    keys = tokens.SigningKeys.parse(KEY)
    token, _ = tokens.issue(keys, user_id="u1", role="user", plan="free", ttl_s=60, user_version=1)
    assert tokens.unverified_kid(token) == keys.current_kid == jwt.get_unverified_header(token)["kid"]
    head, _, rest = token.partition(".")
    no_kid = jwt.encode({"a": 1}, "k" * 32, algorithm="HS256")
    numeric_kid = "eyJraWQiOjd9.b.c"  # {"kid":7}
    for bad in ("", "a.b", "a.b.c.d", "!!.b.c", f"{head}x.{rest}", "bnVsbA.b.c", "WzFd.b.c", no_kid, numeric_kid):
        assert tokens.unverified_kid(bad) is None, bad
    assert tokens.unverified_kid(token + "a" * tokens.MAX_TOKEN_CHARS) is None
