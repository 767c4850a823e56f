"""Metered routes with a charge-key template are charged once per key and UTC day, and metered
services learn the charge (key and day) so that they can refund a failed operation."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from starlette.routing import Match

from algoitny_accounts.settings import AccountsSettings
from algoitny_gateway.domain.routes import ROUTES
from algoitny_gateway.entrypoints.http import make_app, templated_charge_key
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared.charges import CHARGE_HEADER

ADMIN = "unit-admin-token"


class Recorder:
    """A fake upstream: records requests; /quota/consume answers like ratelimit."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                rec.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(raw) if raw else None,
                    }
                )
                if self.path == "/.well-known/jwks.json":  # accounts' public token keys
                    body = AccountsSettings().signing_keys().jwks()
                elif self.path == "/quota/consume":
                    body = {
                        "day": datetime.now(UTC).strftime("%Y-%m-%d"),
                        "limit": 5,
                        "remaining": 4,
                        "reset_at": "2099-01-01T00:00:00+00:00",
                    }
                else:
                    body = {"ok": True}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        return Handler


@pytest.fixture
def upstreams() -> Iterator[dict[str, Recorder]]:
    servers, recs = [], {}
    for name in ("ratelimit", "hints", "accounts"):
        rec = Recorder()
        server = ThreadingHTTPServer(("127.0.0.1", 0), rec.handler())
        server.daemon_threads = True
        rec.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        recs[name] = rec
    yield recs
    for server in servers:
        server.shutdown()
        server.server_close()


def _user_headers() -> dict[str, str]:
    from algoitny_shared import tokens

    token, _ = tokens.issue(AccountsSettings().signing_keys(), user_id="alice", role="user", plan="free", ttl_s=600)
    return {"authorization": f"Bearer {token}"}


async def test_problem_hint_reads_share_one_charge_key_per_day(upstreams: dict[str, Recorder]) -> None:
    settings = GatewaySettings(
        ratelimit_url=upstreams["ratelimit"].url,
        hints_url=upstreams["hints"].url,
        accounts_url=upstreams["accounts"].url,
        admin_token=ADMIN,
    )
    app = make_app(settings)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        for _ in range(2):
            resp = await client.get("/api/v1/problems/cf/1A/hints", headers=_user_headers())
            assert resp.status_code == 200, resp.text
        resp = await client.post("/api/v1/executions/ex-1/hints", headers=_user_headers())
        assert resp.status_code == 200
        resp = await client.get("/api/v1/executions/ex-1/hints", headers=_user_headers())
        assert resp.status_code == 200
        resp = await client.get("/api/v1/problems/cf/1A/hints", headers={"authorization": f"Bearer {ADMIN}"})
        assert resp.status_code == 200
    consumes = [r["body"] for r in upstreams["ratelimit"].requests if r["path"] == "/quota/consume"]
    assert [c["request_id"] for c in consumes[:2]] == [f"problem-hint:cf:1A:{day}"] * 2
    assert consumes[2]["request_id"] != consumes[0]["request_id"] and consumes[2]["action"] == "hint"
    assert len(consumes) == 3  # GET execution hints is not metered, admins are not metered
    forwarded = upstreams["hints"].requests
    assert [r["path"] for r in forwarded] == [
        "/problems/cf/1A/hints",
        "/problems/cf/1A/hints",
        "/executions/ex-1/hints",
        "/executions/ex-1/hints",
        "/problems/cf/1A/hints",
    ]
    charges = [r["headers"].get(CHARGE_HEADER) for r in forwarded]
    # problem hint reads are charged after the answer (nothing to refund); execution hint requests before
    assert charges[0] is None and charges[1] is None
    assert charges[2] == f"{day} {consumes[2]['request_id']}"
    assert charges[3] is None and charges[4] is None


async def test_clients_cannot_send_a_charge_header(upstreams: dict[str, Recorder]) -> None:
    settings = GatewaySettings(
        ratelimit_url=upstreams["ratelimit"].url,
        hints_url=upstreams["hints"].url,
        accounts_url=upstreams["accounts"].url,
    )
    app = make_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        headers = {**_user_headers(), CHARGE_HEADER: "2020-01-01 someone-elses-key"}
        await client.get("/api/v1/executions/ex-1/hints", headers=headers)
    assert upstreams["hints"].requests[0]["headers"].get(CHARGE_HEADER) is None


def test_templated_charge_key() -> None:
    key = templated_charge_key(
        "problem-hint:{platform}:{problem_id}", {"platform": "cf", "problem_id": "1A"}, "2026-01-02"
    )
    assert key == "problem-hint:cf:1A:2026-01-02"
    odd = templated_charge_key(
        "problem-hint:{platform}:{problem_id}", {"platform": "cf", "problem_id": "a b" * 60}, "2026-01-02"
    )
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{8,128}", odd) and odd.endswith(":2026-01-02")


@pytest.mark.parametrize(
    ("method", "path", "upstream_path"),
    [
        ("GET", "/api/v1/problems/cf/1A/hints", "/problems/{platform}/{problem_id}/hints"),
        ("POST", "/api/v1/problems/cf/1A/hints", "/problems/{platform}/{problem_id}/hints"),
        ("GET", "/api/v1/problems/cf/1A", "/problems/{platform}/{problem_id}"),
        ("GET", "/api/v1/problems/cf/1A/testcases", "/problems/{platform}/{problem_id}/testcases"),
        ("POST", "/api/v1/executions/e1/hints", "/executions/{execution_id}/hints"),
        ("POST", "/api/v1/executions", "/executions"),
    ],
)
def test_hint_routes_do_not_clash(method: str, path: str, upstream_path: str) -> None:
    app = make_app(GatewaySettings())
    for route in app.routes:
        match, _ = route.matches({"type": "http", "path": path, "method": method})
        if match is Match.FULL:
            spec = next(r for r in ROUTES if r.public_path == route.path and r.method == method)  # type: ignore[attr-defined]
            assert spec.upstream_path == upstream_path
            return
    raise AssertionError(f"no route for {method} {path}")


async def test_a_read_that_finds_nothing_is_not_charged(upstreams: dict[str, Recorder]) -> None:
    settings = GatewaySettings(
        ratelimit_url=upstreams["ratelimit"].url, hints_url="http://127.0.0.1:9", accounts_url=upstreams["accounts"].url
    )
    app = make_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        resp = await client.get("/api/v1/problems/cf/1A/hints", headers=_user_headers())
    assert resp.status_code == 503
    assert upstreams["ratelimit"].requests == []
