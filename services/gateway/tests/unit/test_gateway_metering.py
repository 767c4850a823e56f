"""Metered routes at the gateway (issue 23, items 1, 2, 4 and 8), against fake services.

The fake ratelimit keeps charges and idempotency claims in memory the way the real one keeps
them in DynamoDB; the fake services answer each request with a new id (so a second run shows).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from algoitny_gateway.domain.routes import ROUTES, Route
from algoitny_gateway.entrypoints.http import has_dot_segment, make_app
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared import tokens

ADMIN = "unit-operator-token"
KEYS = tokens.SigningKeys.generate()  # accounts' signing keys; the gateway reads their JWKS
CHARGED_FIRST = [r for r in ROUTES if r.metered and not r.charge_on_success]
METERED = [r for r in ROUTES if r.metered]


class FakeRatelimit:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.charges: dict[str, bool] = {}  # charge id -> refunded
        self.claims: dict[tuple[str, str], dict[str, Any]] = {}

    @property
    def used(self) -> int:
        return sum(1 for refunded in self.charges.values() if not refunded)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        quota = {"day": day, "limit": 50, "reset_at": "2099-01-01T00:00:00+00:00", "action": body.get("action")}
        with self.lock:
            if path == "/quota/consume":
                claim = body.get("idempotency")
                if claim:
                    held = self.claims.get((body["user_id"], claim["key"]))
                    if held is not None:
                        record = {"key": claim["key"], "claimed_at": 0, **held}
                        return 200, {**quota, "remaining": 50 - self.used, "idempotent": record}
                    self.claims[(body["user_id"], claim["key"])] = {
                        "fingerprint": claim["fingerprint"],
                        "state": "in_flight",
                        "attempt": body["request_id"],
                    }
                if body.get("metered", True):
                    assert body["request_id"] not in self.charges, "a charge id was reused"
                    self.charges[body["request_id"]] = False
                return 200, {**quota, "remaining": 50 - self.used}
            if path == "/quota/refund":
                self.charges[body["request_id"]] = True
                return 200, {"refunded": True}
            if path == "/quota/settle":
                key = (body["user_id"], body["key"])
                held = self.claims.get(key)
                if held is None or held["attempt"] != body["request_id"] or held["state"] != "in_flight":
                    return 200, {"settled": False}
                if body.get("response"):
                    held.update(state="completed", response=body["response"])
                else:
                    del self.claims[key]
                return 200, {"settled": True}
        return 404, {}


class FakeService:
    """Answers every request with a fresh id, or with ``status`` when one is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status: int | None = None
        self.delay_s = 0.0


def _serve(handle: Any) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("content-length", "0")))
            raw = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                raw += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return raw

        def _handle(self) -> None:
            raw = self._body()
            status, body = handle(self.command, self.path, dict(self.headers), raw)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json" if status < 400 else "application/problem+json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[FakeRatelimit, FakeService, GatewaySettings]]:
    ratelimit, service = FakeRatelimit(), FakeService()

    def quota(method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        return ratelimit.answer(path, json.loads(raw))

    def upstream(method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/.well-known/jwks.json":  # the fake plays accounts too
            return 200, KEYS.jwks()
        service.calls.append({"method": method, "path": path, "headers": headers, "body": raw})
        time.sleep(service.delay_s)
        if service.status is not None:
            return service.status, {"status": service.status, "code": "X", "instance": path}
        return 202, {"id": uuid.uuid4().hex, "path": path}

    s1, rl_url = _serve(quota)
    s2, svc_url = _serve(upstream)
    settings = GatewaySettings(
        ratelimit_url=rl_url,
        executions_url=svc_url,
        hints_url=svc_url,
        problems_url=svc_url,
        accounts_url=svc_url,
        admin_token=ADMIN,
        rate_general_per_min=100_000,  # one app serves the whole module
        rate_execution_per_min=100_000,
    )
    yield ratelimit, service, settings
    for server in (s1, s2):
        server.shutdown()
        server.server_close()


@pytest.fixture
def fakes(
    stack: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> tuple[FakeRatelimit, FakeService, GatewaySettings]:
    """The module's fakes, with nothing charged, claimed or called yet."""
    ratelimit, service, settings = stack
    ratelimit.charges.clear()
    ratelimit.claims.clear()
    service.calls.clear()
    service.status, service.delay_s = None, 0.0
    return ratelimit, service, settings


def _user(user_id: str = "alice") -> dict[str, str]:
    token, _ = tokens.issue(KEYS, user_id=user_id, role="user", plan="free", ttl_s=600)
    return {"authorization": f"Bearer {token}"}


def _path(route: Route) -> str:
    return route.public_path.format(platform="cf", problem_id="1A", execution_id="01ARZ3NDEKTSV4RRFFQ69G5FAV")


_APPS: dict[str, FastAPI] = {}


def _app(settings: GatewaySettings) -> FastAPI:
    """One gateway app per settings (building one takes a while)."""
    key = settings.model_dump_json()
    if key not in _APPS:
        _APPS[key] = make_app(settings)
    return _APPS[key]


def _client(settings: GatewaySettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(settings)), base_url="http://gw")


@pytest.mark.parametrize("route", CHARGED_FIRST, ids=lambda r: f"{r.method} {r.public_path}")
async def test_a_replayed_key_gets_the_first_answer_and_runs_nothing(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings], route: Route
) -> None:
    ratelimit, service, settings = fakes
    headers = {**_user(), "idempotency-key": "same-key-0001"}
    async with _client(settings) as client:
        answers = [await client.request(route.method, _path(route), json={"a": 1}, headers=headers) for _ in range(5)]
        assert {a.status_code for a in answers} == {202}
        assert len({a.content for a in answers}) == 1 and len(service.calls) == 1 and ratelimit.used == 1
        assert [a.headers.get("idempotent-replayed") for a in answers] == [None] + ["true"] * 4
        # Same key, same body written otherwise: the same request.
        same = await client.request(route.method, _path(route), content=b'{ "a" : 1 }', headers=headers)
        assert same.status_code == 202 and same.content == answers[0].content
        # Same key, another body: 422, nothing run or charged.
        other = await client.request(route.method, _path(route), json={"a": 2}, headers=headers)
        assert other.status_code == 422 and other.json()["code"] == "VALIDATION_FAILED"
        # Keys belong to their user: bob's request under the same key is his own.
        bobs = await client.request(route.method, _path(route), json={"a": 2}, headers={**headers, **_user("bob")})
        assert bobs.status_code == 202 and bobs.content != answers[0].content
    assert len(service.calls) == 2 and ratelimit.used == 2


async def test_concurrent_duplicates_run_once(fakes: tuple[FakeRatelimit, FakeService, GatewaySettings]) -> None:
    ratelimit, service, settings = fakes
    service.delay_s = 0.3
    headers = {**_user(), "idempotency-key": "burst-key-0001"}
    async with _client(settings) as client:
        answers = await asyncio.gather(
            *(client.post("/api/v1/executions", json={"a": 1}, headers=headers) for _ in range(6))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] + [409] * 5, codes
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 409)
    assert len(service.calls) == 1 and ratelimit.used == 1


async def test_a_reused_request_id_is_charged_every_time(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> None:
    ratelimit, service, settings = fakes
    headers = {**_user(), "x-request-id": "client-chosen-id"}
    async with _client(settings) as client:
        for _ in range(3):
            assert (await client.post("/api/v1/runs", json={}, headers=headers)).status_code == 202
    assert len(service.calls) == 3 and ratelimit.used == 3 and len(ratelimit.charges) == 3


@pytest.mark.parametrize("status", [404, 422, 429, 503])
@pytest.mark.parametrize("route", METERED, ids=lambda r: f"{r.method} {r.public_path}")
async def test_an_answer_that_delivered_nothing_costs_nothing(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings], route: Route, status: int
) -> None:
    ratelimit, service, settings = fakes
    service.status = status
    headers = {**_user(), "idempotency-key": "refused-key-01"}
    async with _client(settings) as client:
        first = await client.request(route.method, _path(route), json={"a": 1}, headers=headers)
        assert first.status_code == status and first.json()["instance"] == _path(route)
        assert "ratelimit-remaining" not in first.headers
        assert ratelimit.used == 0
        # The key is free again: the corrected request under it runs (and is charged).
        service.status = None
        fixed = await client.request(route.method, _path(route), json={"a": 2}, headers=headers)
    assert fixed.status_code == 202 and ratelimit.used == 1


async def test_an_unreachable_service_costs_nothing(fakes: tuple[FakeRatelimit, FakeService, GatewaySettings]) -> None:
    ratelimit, _, settings = fakes
    settings = settings.model_copy(update={"executions_url": "http://127.0.0.1:9"})
    async with _client(settings) as client:
        resp = await client.post("/api/v1/executions", json={}, headers={**_user(), "idempotency-key": "down-key-01"})
    assert resp.status_code == 503 and ratelimit.used == 0 and ratelimit.claims == {}


async def test_admins_are_not_charged_but_their_keys_hold(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> None:
    ratelimit, service, settings = fakes
    headers = {"authorization": f"Bearer {ADMIN}", "idempotency-key": "admin-key-001"}
    async with _client(settings) as client:
        answers = [await client.post("/api/v1/executions", json={}, headers=headers) for _ in range(3)]
        plain = await client.post("/api/v1/executions", json={}, headers={"authorization": f"Bearer {ADMIN}"})
    assert len({a.content for a in answers}) == 1 and plain.status_code == 202
    assert len(service.calls) == 2 and ratelimit.charges == {}


async def test_a_malformed_key_is_400(fakes: tuple[FakeRatelimit, FakeService, GatewaySettings]) -> None:
    ratelimit, service, settings = fakes
    async with _client(settings) as client:
        resp = await client.post("/api/v1/executions", json={}, headers={**_user(), "idempotency-key": "bad key!"})
    assert resp.status_code == 400 and service.calls == [] and ratelimit.charges == {}


# --------------------------------------------------------------------------- item 4


@pytest.mark.parametrize(
    ("value", "dots"),
    [
        (".", True),
        ("..", True),
        ("%2e%2e", True),
        ("%2E%2e", True),
        (".%2E", True),
        ("%252e%252e", True),
        ("%25252e", True),
        ("a..b", False),
        ("1A.b", False),
        ("...", False),
        ("%2e%2e%2e", False),
        ("100%", False),
    ],
)
def test_dot_segments_in_any_encoding(value: str, dots: bool) -> None:
    assert has_dot_segment(value) is dots


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/problems/%2e%2e/metrics",
        "/api/v1/problems/../readyz",
        "/api/v1/problems/%252e%252e/openapi.json",
        "/api/v1/problems/x/%2e/testcases",
        "/api/v1/executions/%2E%2E/hints",
    ],
)
async def test_dot_segment_paths_never_reach_a_service(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings], path: str
) -> None:
    _, service, settings = fakes
    async with _client(settings) as client:
        resp = await client.get(path, headers={"authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 404 and service.calls == []


async def test_parameters_with_dots_still_reach_their_service(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> None:
    _, service, settings = fakes
    async with _client(settings) as client:
        resp = await client.get("/api/v1/problems/cf/1A.b")
    assert resp.status_code == 202 and service.calls[0]["path"] == "/problems/cf/1A%2Eb"


async def test_gateway_metrics_need_the_operator_token(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> None:
    _, _, settings = fakes
    async with _client(settings) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=_user())).status_code == 401
        ok = await client.get("/metrics", headers={"authorization": f"Bearer {ADMIN}"})
    assert ok.status_code == 200 and "# HELP" in ok.text


# --------------------------------------------------------------------------- item 8


async def _upload(settings: GatewaySettings, headers: dict[str, str], chunks: int) -> tuple[int, int]:
    """PUT a test set in ``chunks`` chunks of 1 MiB straight into the ASGI app: (status, chunks read)."""
    app = _app(settings)
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b" " * 1_048_576, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/api/v1/problems/cf/1A/testcases",
        "raw_path": b"/api/v1/problems/cf/1A/testcases",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in {"host": "gw", **headers}.items()],
        "client": ("127.0.0.1", 1),
        "server": ("gw", 80),
    }
    await app(scope, receive, send)
    return status, read


async def test_an_upload_is_refused_before_its_body_is_read(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> None:
    _, service, settings = fakes
    assert await _upload(settings, {}, 60) == (401, 0)
    assert await _upload(settings, _user(), 60) == (403, 0)
    assert service.calls == []


async def test_an_allowed_upload_is_streamed_and_its_limit_holds(
    fakes: tuple[FakeRatelimit, FakeService, GatewaySettings],
) -> None:
    _, service, settings = fakes
    admin = {"authorization": f"Bearer {ADMIN}"}
    assert await _upload(settings, admin, 3) == (202, 3)  # chunked
    assert await _upload(settings, {**admin, "content-length": str(2 * 1_048_576)}, 2) == (202, 2)
    assert [len(c["body"]) for c in service.calls] == [3 * 1_048_576, 2 * 1_048_576]
    small = settings.model_copy(update={"max_upload_bytes": 2 * 1_048_576})
    status, read = await _upload(small, admin, 60)
    assert status == 413 and read <= 3
