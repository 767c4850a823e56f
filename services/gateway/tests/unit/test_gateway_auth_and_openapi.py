from __future__ import annotations

import time

import jwt
import pytest

from algoitny_gateway.domain.routes import ROUTES
from algoitny_gateway.service_layer.auth import Authenticator, authorize, client_address
from algoitny_gateway.service_layer.openapi import compose
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode

KEYS = tokens.SigningKeys.generate()
PUBLIC_X = KEYS.jwks()["keys"][0]["x"]


def test_anonymous_admin_token_and_user_tokens() -> None:
    auth = Authenticator(KEYS, "ops-token")
    assert auth.identify(None).role == "anonymous"
    assert auth.identify("Bearer ops-token").is_admin
    user, claims = tokens.issue(KEYS, user_id="u1", role="user", plan="free", ttl_s=60)
    identity = auth.identify(f"Bearer {user}", "10.0.0.1")
    assert identity.user_id == "u1" and identity.role == "user" and identity.plan == "free"
    assert identity.token_id == claims.jti and identity.client_ip == "10.0.0.1"
    admin, _ = tokens.issue(KEYS, user_id="a1", role="admin", plan="admin", ttl_s=60)
    assert auth.identify(f"bearer {admin}").is_admin
    # The registrar decision comes from the plan's flag in the token, never from the plan id.
    assert not identity.may_register and not identity.may_register_problems
    registrar, _ = tokens.issue(KEYS, user_id="r1", role="user", plan="any-name", ttl_s=60, may_register=True)
    assert auth.identify(f"Bearer {registrar}").may_register_problems
    named, _ = tokens.issue(KEYS, user_id="r2", role="user", plan="registrar", ttl_s=60)
    assert not auth.identify(f"Bearer {named}").may_register_problems
    operator = auth.identify("Bearer ops-token")
    assert operator.may_register_problems and operator.user_id == "operator"


@pytest.mark.parametrize(
    "header",
    [
        "Basic abc",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer " + tokens.issue(tokens.SigningKeys.generate(), user_id="u", role="admin", plan="x", ttl_s=60)[0],
        "Bearer "
        + KEYS.sign(
            {"sub": "u", "role": "admin", "plan": "x", "iss": tokens.ISSUER, "typ": "access", "iat": 0, "exp": 1}
        ),
        "Bearer " + jwt.encode({"sub": "u", "role": "admin", "exp": int(time.time()) + 60}, PUBLIC_X),
    ],
)
def test_bad_credentials_are_401(header: str) -> None:
    with pytest.raises(AppError) as err:
        Authenticator(KEYS, "ops-token").identify(header)
    assert err.value.code is ErrorCode.UNAUTHENTICATED


def test_openapi_is_composed_from_upstream_documents() -> None:
    upstream = {
        "problems": {
            "paths": {
                "/problems": {"post": {"summary": "Create", "responses": {}}},
                "/problems/{platform}/{problem_id}": {"get": {"summary": "Get", "responses": {}}},
            },
            "components": {"schemas": {"NewProblem": {"type": "object"}}},
        }
    }
    doc = compose({"openapi": "3.1.0", "paths": {}, "components": {}}, upstream)
    assert doc["paths"]["/api/v1/problems"]["post"]["security"] == [{"bearer": []}]
    assert "get" in doc["paths"]["/api/v1/problems/{platform}/{problem_id}"]
    assert "NewProblem" in doc["components"]["schemas"]
    assert "/api/v1/problems/search" not in doc["paths"]  # its upstream document was missing


def test_route_table_has_unique_method_paths() -> None:
    keys = [(r.method, r.public_path) for r in ROUTES]
    assert len(keys) == len(set(keys))
    assert all(r.public_path.startswith("/api/v1/") for r in ROUTES)


def test_route_access_policies() -> None:
    from algoitny_shared.identity import Identity

    anonymous, user = Identity(), Identity(user_id="u", role="user", plan="free")
    registrar = Identity(user_id="r", role="user", plan="studio", may_register=True)
    admin = Identity(user_id="a", role="admin", plan="free")
    authorize(anonymous, "public")
    for who, access, code in [
        (anonymous, "user", ErrorCode.UNAUTHENTICATED),
        (anonymous, "registrar", ErrorCode.UNAUTHENTICATED),
        (user, "registrar", ErrorCode.FORBIDDEN),
        (Identity(user_id="n", role="user", plan="registrar"), "registrar", ErrorCode.FORBIDDEN),
        (user, "admin", ErrorCode.FORBIDDEN),
        (registrar, "admin", ErrorCode.FORBIDDEN),
    ]:
        with pytest.raises(AppError) as err:
            authorize(who, access)  # type: ignore[arg-type]
        assert err.value.code is code
    authorize(registrar, "registrar")
    authorize(admin, "registrar")
    authorize(admin, "admin")
    authorize(user, "user")


def test_client_address_trusts_only_the_configured_proxies() -> None:
    assert client_address("1.1.1.1", "6.6.6.6", 0) == "1.1.1.1"  # no proxy: X-Forwarded-For is ignored
    assert client_address("10.0.0.1", "6.6.6.6, 2.2.2.2", 1) == "2.2.2.2"  # client-set 6.6.6.6 ignored
    assert client_address("10.0.0.1", "6.6.6.6, 2.2.2.2, 10.0.0.9", 2) == "2.2.2.2"
    assert client_address("10.0.0.1", None, 1) == "10.0.0.1"


def test_execution_routes_are_metered_streamed_and_never_clash_with_problem_routes() -> None:
    from starlette.routing import compile_path

    by_key = {(r.method, r.public_path): r for r in ROUTES}
    runs = by_key[("POST", "/api/v1/runs")]
    assert runs.metered == "execution" and runs.access == "user"
    assert by_key[("GET", "/api/v1/executions/{execution_id}/events")].stream
    history = by_key[("GET", "/api/v1/problems/{platform}/{problem_id}/history")]
    assert history.access == "admin" and history.upstream == "executions"
    problem_regex = compile_path("/api/v1/problems/{platform}/{problem_id}")[0]
    assert not problem_regex.match("/api/v1/problems/boj/1000/history")
    matching = [
        r
        for r in ROUTES
        if r.method == "GET" and compile_path(r.public_path)[0].match("/api/v1/problems/boj/1000/history")
    ]
    assert matching == [history]
