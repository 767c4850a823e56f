"""Daily quotas and raw rate limits through the gateway (two gateway processes)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.kafka_tools import read_topic

from algoitny_accounts.settings import AccountsSettings
from algoitny_devtools.platform import Platform
from algoitny_shared import tokens
from algoitny_shared.events import EventEnvelope
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import RATELIMIT_EVENTS

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _user_token(user_id: str, plan: str = "free") -> dict[str, str]:
    """A valid access token for a user the accounts service need not know (quotas key on the id)."""
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=user_id, role="user", plan=plan, ttl_s=600)
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def second_gateway(platform: Platform) -> Iterator[str]:
    port = _free_port()
    platform.start("gateway", replica_port=port)
    platform.wait_ready([f"gateway@{port}"])
    yield f"http://127.0.0.1:{port}"
    platform.kill(f"gateway@{port}", 15)


@pytest.fixture(scope="module")
def judged_problem(gateway: httpx.Client, admin_headers: dict[str, str]) -> dict[str, str]:
    """A completed problem: only submissions the service accepts are charged (refused ones are not)."""
    problem_id = f"q{uuid.uuid4().hex[:8]}"
    resp = gateway.post(
        "/api/v1/problems",
        json={
            "platform": "e2equota",
            "problem_id": problem_id,
            "title": "Quota",
            "status": "completed",
            "test_cases": [{"input": "1\n", "output": "1\n", "is_sample": True}],
        },
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    return {"platform": "e2equota", "problem_id": problem_id, "language": "python3", "code": "print(1)"}


def test_concurrent_executions_across_two_gateways_admit_exactly_the_limit(
    platform: Platform,
    second_gateway: str,
    bootstrap: str,
    gateway: httpx.Client,
    admin_headers: dict[str, str],
    judged_problem: dict[str, str],
) -> None:
    plan = f"t{uuid.uuid4().hex[:6]}"
    created = gateway.post(
        "/api/v1/admin/plans",
        json={"plan_id": plan, "name": f"Tiny {plan}", "daily_limits": {"execution": 10, "hint": 1}},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    user = f"q{uuid.uuid4().hex[:10]}"
    headers = _user_token(user, plan)
    bases = [platform.url("gateway"), second_gateway]

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=80)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            calls = [
                client.post(f"{bases[i % 2]}/api/v1/executions", json=judged_problem, headers=headers)
                for i in range(80)
            ]
            return list(await asyncio.gather(*calls))

    responses = asyncio.run(burst())
    limited = [r for r in responses if r.status_code == 429]
    admitted = [r for r in responses if r.status_code != 429]
    assert len(admitted) == 10 and len(limited) == 70, [
        (r.status_code, r.text) for r in responses if r.status_code != 429
    ][:2]
    assert {r.status_code for r in admitted} == {202}
    sample = limited[0]

    assert int(sample.headers["retry-after"]) > 0 and sample.headers["ratelimit-remaining"] == "0"
    assert sample.headers["content-type"].startswith("application/problem+json")
    assert sample.json()["code"] == "RATE_LIMITED"
    assert {r.headers["ratelimit-limit"] for r in admitted} == {"10"}

    usage = httpx.get(f"{platform.url('gateway')}/api/v1/me/usage", headers=headers, timeout=10).json()
    executions = next(a for a in usage["actions"] if a["action"] == "execution")
    assert executions["used"] == 10 and executions["remaining"] == 0 and usage["plan_id"] == plan

    def consumed(record: Any) -> bool:
        try:
            env = EventEnvelope.from_bytes(record.value)
        except ValueError:
            return False
        return env.event_type == "ratelimit.UsageConsumed" and env.payload["user_id"] == user

    topic = RATELIMIT_EVENTS.physical(ServiceSettings().namespace)
    events = asyncio.run(read_topic(bootstrap, topic, expect=10, match=consumed, timeout_s=30))
    assert len({EventEnvelope.from_bytes(r.value).event_id for r in events}) == 10


def test_anonymous_metered_request_is_401_and_admins_are_not_metered(
    gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    resp = gateway.post("/api/v1/executions", json={})
    assert resp.status_code == 401 and resp.json()["code"] == "UNAUTHENTICATED"
    resp = gateway.post("/api/v1/executions", json={}, headers=admin_headers)
    assert resp.status_code != 429 and "ratelimit-limit" not in resp.headers


def test_idempotency_key_charges_a_retried_request_once(gateway: httpx.Client, judged_problem: dict[str, str]) -> None:
    user = f"i{uuid.uuid4().hex[:10]}"
    headers = {**_user_token(user), "idempotency-key": f"retry-{uuid.uuid4().hex}"}
    first = gateway.post("/api/v1/executions", json=judged_problem, headers=headers)
    second = gateway.post("/api/v1/executions", json=judged_problem, headers=headers)
    assert first.status_code == second.status_code == 202, first.text
    assert first.json()["execution_id"] == second.json()["execution_id"]
    assert first.headers["ratelimit-remaining"] == second.headers["ratelimit-remaining"] == "49"
    bad = gateway.post("/api/v1/executions", json={}, headers={**headers, "idempotency-key": "no spaces!"})
    assert bad.status_code == 400


def test_plan_administration_through_the_gateway(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    pid = f"g{uuid.uuid4().hex[:6]}"
    body = {"plan_id": pid, "name": f"Gold {pid}", "daily_limits": {"execution": 500, "hint": 50}}
    assert gateway.post("/api/v1/admin/plans", json=body, headers=_user_token("someone")).status_code == 403
    assert gateway.post("/api/v1/admin/plans", json=body).status_code == 401
    created = gateway.post("/api/v1/admin/plans", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert gateway.post("/api/v1/admin/plans", json=body, headers=admin_headers).status_code == 409
    bad = gateway.post(
        "/api/v1/admin/plans",
        json={**body, "plan_id": f"{pid}x", "daily_limits": {"execution": -7}},
        headers=admin_headers,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_FAILED"
    unknown_action = gateway.patch(
        f"/api/v1/admin/plans/{pid}", json={"daily_limits": {"teleport": 1}}, headers=admin_headers
    )
    assert unknown_action.status_code == 422
    patched = gateway.patch(f"/api/v1/admin/plans/{pid}", json={"active": False}, headers=admin_headers)
    assert patched.status_code == 200 and patched.json()["active"] is False
    public = {p["plan_id"] for p in gateway.get("/api/v1/plans").json()["items"]}
    assert pid not in public and {"free", "pro"} <= public and "admin" not in public
    assert gateway.delete(f"/api/v1/admin/plans/{pid}", headers=admin_headers).status_code == 204
    assert gateway.delete(f"/api/v1/admin/plans/{pid}", headers=admin_headers).status_code == 404
    kept = gateway.delete("/api/v1/admin/plans/free", headers=admin_headers)  # every new user gets it
    assert kept.status_code == 409 and "cannot be deleted" in kept.json()["detail"], kept.text


def test_raw_request_rate_is_limited_per_client(platform: Platform) -> None:
    port = _free_port()
    rates = {"ALGOITNY_RATE_GENERAL_PER_MIN": "5", "ALGOITNY_RATE_SIGNIN_PER_MIN": "2"}
    platform.start("gateway", {**rates, "ALGOITNY_RATE_SUGGEST_PER_MIN": "8"}, replica_port=port)
    try:
        platform.wait_ready([f"gateway@{port}"])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            codes = [client.get("/api/v1/plans").status_code for _ in range(6)]
            assert codes == [200] * 5 + [429]
            limited = client.get("/api/v1/plans")
            assert limited.json()["code"] == "RATE_LIMITED" and int(limited.headers["retry-after"]) >= 1
            # Suggestions (a request per keystroke) have a bucket of their own.
            typed = [client.get("/api/v1/problems/suggest", params={"q": "q" * n}).status_code for n in range(1, 10)]
            assert typed == [200] * 8 + [429]
    finally:
        platform.kill(f"gateway@{port}", 15)
