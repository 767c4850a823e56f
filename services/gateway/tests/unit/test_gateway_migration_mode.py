"""Migration mode (issue 16): while the legacy database owns the data, writes to it are refused
at the gateway with 503 + Retry-After and reason migration_read_only; reads and sign-in stay open.
The phase comes from the migration topic (MigrationPhaseChanged, highest version wins)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from algoitny_gateway.adapters.migration_feed import apply
from algoitny_gateway.domain.migration import OPEN_DURING_MIGRATION, PhaseView, writes_legacy_data
from algoitny_gateway.domain.routes import API, ROUTES, Route
from algoitny_gateway.entrypoints.http import make_app
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared import tokens
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import MigrationPhaseChanged, UserDeactivated
from algoitny_shared.migration_phase import PHASES, TRANSITIONS, may_move, writes_open

ADMIN = "unit-operator-token"
KEYS = tokens.SigningKeys.generate()


def _changed(phase: str, version: int, previous: str = "open") -> bytes:
    payload = MigrationPhaseChanged(
        phase=phase,
        previous_phase=previous,
        writes_open=writes_open(phase),
        version=version,
        command="test",
        changed_at=datetime.now(UTC),
    )
    return REGISTRY.envelope(
        payload, producer="migration", aggregate_id="migration", aggregate_version=version
    ).to_bytes()


def test_the_phase_vocabulary_is_consistent() -> None:
    assert writes_open("open") and writes_open("cut_over")
    assert not any(writes_open(p) for p in ("migrating", "rolling_back", "rolled_back"))
    assert all(a in PHASES and b in PHASES for a, b in TRANSITIONS)
    assert may_move("rolled_back", "cut_over") and not may_move("open", "cut_over")


def test_the_highest_version_wins_and_redelivery_changes_nothing() -> None:
    view = PhaseView()
    assert view.phase == "open" and view.writes_open  # no migration configured: open
    assert apply(view, _changed("migrating", 1))
    assert apply(view, _changed("cut_over", 2, "migrating"))
    assert not apply(view, _changed("migrating", 1))  # an old event read again
    assert view.phase == "cut_over" and view.writes_open
    assert not apply(view, b"not json")
    other = REGISTRY.envelope(
        UserDeactivated(user_id="u", deactivated_at=datetime.now(UTC)),
        producer="accounts",
        aggregate_id="u",
        aggregate_version=9,
    )
    assert not apply(view, other.to_bytes()) and view.version == 2


def test_which_routes_are_refused() -> None:
    refused = {(r.method, r.public_path) for r in ROUTES if writes_legacy_data(r)}
    assert (("POST", f"{API}/auth/register")) in refused  # sign-up: a new legacy user
    assert ("POST", f"{API}/executions") in refused and ("POST", f"{API}/runs") in refused
    assert ("PUT", f"{API}/problems/{{platform}}/{{problem_id}}/testcases") in refused
    assert ("PATCH", f"{API}/admin/users/{{user_id}}") in refused  # plan changes
    assert ("GET", f"{API}/problems/{{platform}}/{{problem_id}}/hints") in refused  # metered: a usage log
    assert not refused & OPEN_DURING_MIGRATION
    assert all(
        r.method == "GET" and not r.metered
        for r in ROUTES
        if (r.method, r.public_path) not in refused and (r.method, r.public_path) not in OPEN_DURING_MIGRATION
    )


def _serve(calls: list[str]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            body: Any = KEYS.jwks() if self.path.endswith("jwks.json") else {"ok": True}
            if not self.path.endswith("jwks.json"):
                calls.append(f"{self.command} {self.path}")
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[FastAPI, list[str]]]:
    calls: list[str] = []
    server, url = _serve(calls)
    settings = GatewaySettings(
        problems_url=url,
        accounts_url=url,
        executions_url=url,
        hints_url=url,
        ratelimit_url=url,
        stats_url=url,
        search_url=url,
        admin_token=ADMIN,
        rate_general_per_min=100_000,
        rate_signin_per_min=100_000,
    )
    yield make_app(settings), calls
    server.shutdown()
    server.server_close()


def _set(app: FastAPI, phase: str) -> None:
    view: PhaseView = app.state.migration_phase.view
    view.phase, view.version = phase, view.version + 1


def _path(route: Route) -> str:
    return route.public_path.format(
        platform="cf",
        problem_id="1A",
        execution_id="e1",
        job_id="j1",
        plan_id="p1",
        user_id="u1",
        legacy_id="7",
        numeric_id="1",
    )


@pytest.mark.parametrize("phase", ["migrating", "rolling_back", "rolled_back"])
async def test_writes_are_refused_with_a_reason_reads_and_sign_in_pass(
    gateway: tuple[FastAPI, list[str]], phase: str
) -> None:
    app, calls = gateway
    _set(app, phase)
    admin = {"authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        calls.clear()
        for route in (r for r in ROUTES if writes_legacy_data(r)):
            resp = await client.request(route.method, _path(route), headers=admin, json={})
            assert resp.status_code == 503, (route, resp.text)
            body = resp.json()
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert body["code"] == "MIGRATION_READ_ONLY" and body["reason"] == "migration_read_only"
            assert body["phase"] == phase and int(resp.headers["retry-after"]) > 0
        assert calls == []  # nothing reached a service: refused, not accepted and lost
        for method, path in sorted(OPEN_DURING_MIGRATION):
            resp = await client.request(method, path, headers=admin, json={})
            assert resp.status_code == 200, (path, resp.text)
        assert (await client.get(f"{API}/problems/cf/1A")).status_code == 200
        assert (await client.get(f"{API}/history")).status_code == 200
        shown = (await client.get(f"{API}/migration/phase")).json()
        assert shown["phase"] == phase and shown["writes_open"] is False


@pytest.mark.parametrize("phase", ["open", "cut_over"])
async def test_writes_pass_when_the_platform_owns_the_data(gateway: tuple[FastAPI, list[str]], phase: str) -> None:
    app, calls = gateway
    _set(app, phase)
    calls.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        resp = await client.patch(f"{API}/admin/users/u1", headers={"authorization": f"Bearer {ADMIN}"}, json={})
        assert resp.status_code == 200
        assert (await client.get(f"{API}/migration/phase")).json()["writes_open"] is True
    assert calls == ["PATCH /admin/users/u1"]


def test_the_internal_routes_the_migration_uses_are_never_public() -> None:
    """accounts' /internal/legacy/export/users/{id} carries a password hash: only the migration tool,
    with a signed admin identity, reads it; the gateway routes no /internal path."""
    assert not [r for r in ROUTES if "/internal" in r.public_path or r.upstream_path.startswith("/internal")]
