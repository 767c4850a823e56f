"""Statistics through the gateway: a user's runs show up in /me/stats (and publicly, minus the
private parts), the problem's statistics, the admin dashboard, and bad input answered 4xx."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e

API = "/api/v1"
PY_AC = "a, b = map(int, input().split())\nprint(a + b)"
PY_WA = "a, b = map(int, input().split())\nprint(a - b)"


def user_headers(user_id: str) -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=user_id, role="user", plan="pro", ttl_s=900)
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def solved(gateway: httpx.Client, admin_headers: dict[str, str]) -> dict[str, Any]:
    """A problem, and a user who got it wrong once and then right."""
    problem_id = f"st{uuid.uuid4().hex[:8]}"
    cases = [{"input": f"{i} {i + 1}\n", "output": f"{2 * i + 1}\n", "is_sample": i == 0} for i in range(3)]
    resp = gateway.post(
        f"{API}/problems",
        json={
            "platform": "e2estats",
            "problem_id": problem_id,
            "title": "A+B",
            "status": "completed",
            "test_cases": cases,
        },
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    user = f"u_st{uuid.uuid4().hex[:10]}"
    headers = user_headers(user)
    verdicts = []
    for code in (PY_WA, PY_AC):
        body = {"platform": "e2estats", "problem_id": problem_id, "language": "python3", "code": code}
        resp = gateway.post(f"{API}/executions", json=body, headers=headers)
        assert resp.status_code == 202, resp.text
        execution_id = resp.json()["execution_id"]
        deadline = time.monotonic() + 60
        while True:
            got = gateway.get(f"{API}/executions/{execution_id}", headers=headers).json()
            if got["status"] == "completed":
                verdicts.append(got["verdict"])
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.2)
    assert verdicts == ["WA", "AC"]
    return {"user": user, "headers": headers, "problem": ("e2estats", problem_id)}


def _eventually(probe: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result is not None:
            return result
        assert time.monotonic() < deadline, "statistics not updated in time"
        time.sleep(0.3)


def test_me_stats_show_the_runs_solves_and_first_solve_time(gateway: httpx.Client, solved: dict[str, Any]) -> None:
    def probe() -> Any:
        resp = gateway.get(f"{API}/me/stats", headers=solved["headers"])
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return body if body["executions"] == 2 else None

    body = _eventually(probe)
    assert body["user_id"] == solved["user"]
    assert body["accepted"] == 1 and body["acceptance_rate"] == 0.5
    assert body["by_verdict"] == {"AC": 1, "WA": 1} and body["by_language"] == {"python3": 2}
    assert body["problems_attempted"] == 1 and body["problems_solved"] == 1
    assert body["current_streak"] == 1 and body["best_streak"] == 1
    assert [(s["platform"], s["problem_id"]) for s in body["solved"]] == [solved["problem"]]
    assert body["solved"][0]["first_solve_at"] >= body["solved"][0]["first_attempt_at"]


def test_public_user_stats_leave_out_the_private_parts(gateway: httpx.Client, solved: dict[str, Any]) -> None:
    _eventually(lambda: gateway.get(f"{API}/me/stats", headers=solved["headers"]).json()["executions"] == 2 or None)
    resp = gateway.get(f"{API}/users/{solved['user']}/stats")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["executions"] == 2 and body["problems_solved"] == 1
    assert "solved" not in body and "hints_used" not in body
    assert gateway.get(f"{API}/users/u_nobody{uuid.uuid4().hex[:6]}/stats").status_code == 404


def test_problem_stats(gateway: httpx.Client, solved: dict[str, Any]) -> None:
    platform, problem_id = solved["problem"]

    def probe() -> Any:
        body = gateway.get(f"{API}/problems/{platform}/{problem_id}/stats").json()
        return body if body.get("attempts") == 2 else None

    body = _eventually(probe)
    assert body["accepted"] == 1 and body["users"] == 1 and body["solves"] == 1 and body["acceptance_rate"] == 0.5
    assert body["by_language"] == {"python3": 2}
    assert body["median_accepted_time_ms"] is not None and body["median_accepted_time_ms"] >= 0


def test_admin_stats_daily_series_totals_and_top_users(
    gateway: httpx.Client, admin_headers: dict[str, str], solved: dict[str, Any]
) -> None:
    today = datetime.now(UTC).date()

    def probe() -> Any:
        resp = gateway.get(
            f"{API}/admin/stats", params={"from": str(today - timedelta(days=29))}, headers=admin_headers
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return (
            body
            if solved["user"] in {u["user_id"] for u in body["top_users"]} or body["totals"]["executions"] >= 2
            else None
        )

    body = _eventually(probe)
    assert len(body["days"]) == 30 and body["days"][-1]["day"] == today.isoformat()
    assert body["days"][-1]["executions"] >= 2 and body["days"][-1]["active_users"] >= 1
    assert body["totals"]["executions"] == sum(d["executions"] for d in body["days"])
    assert body["platform"]["executions"] >= 2


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30"},
        {"from": "yesterday"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"from": "2026-05-02", "to": "2026-05-01"},
    ],
)
def test_admin_stats_bad_ranges_are_422(
    gateway: httpx.Client, admin_headers: dict[str, str], params: dict[str, str]
) -> None:
    resp = gateway.get(f"{API}/admin/stats", params=params, headers=admin_headers)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_stats_access_rules(gateway: httpx.Client, solved: dict[str, Any]) -> None:
    assert gateway.get(f"{API}/me/stats").status_code == 401
    assert gateway.get(f"{API}/admin/stats", headers=solved["headers"]).status_code == 403
    bad = gateway.get(f"{API}/problems/e2estats/{'x' * 80}/stats")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
