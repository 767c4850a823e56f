"""One submission through the gateway is one trace: the gateway, the executions service (its HTTP
span, the outbox relay's publish), ratelimit's quota check, the judge worker (a consumer span) and
the stats consumer, each process exporting over OTLP/HTTP to the test's collector."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from support.otlp_collector import CollectedSpan, Collector
from support.polling import eventually

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e

API = "/api/v1"
PY_AC = "a, b = map(int, input().split())\nprint(a + b)"


def test_a_submission_is_one_trace_from_gateway_to_judge_and_stats(
    gateway: httpx.Client, admin_headers: dict[str, str], collector: Collector
) -> None:
    problem_id = f"tr{uuid.uuid4().hex[:8]}"
    cases = [{"input": f"{i} 1\n", "output": f"{i + 1}\n", "is_sample": i == 0} for i in range(2)]
    body = {
        "platform": "e2etrace",
        "problem_id": problem_id,
        "title": "A+B",
        "status": "completed",
        "test_cases": cases,
    }
    assert gateway.post(f"{API}/problems", json=body, headers=admin_headers).status_code == 201
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=f"t{uuid.uuid4().hex[:10]}", role="user", plan="pro", ttl_s=900)
    user = {"authorization": f"Bearer {token}"}
    # A client's traceparent is linked, not joined: the gateway starts the trace.
    client_parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    submit = {"platform": "e2etrace", "problem_id": problem_id, "language": "python3", "code": PY_AC}
    resp = gateway.post(
        f"{API}/executions",
        json=submit,
        headers={**user, "traceparent": client_parent, "idempotency-key": uuid.uuid4().hex},
    )
    assert resp.status_code == 202, resp.text
    request_id = resp.headers["x-request-id"]
    execution_id = resp.json()["execution_id"]
    deadline = time.monotonic() + 60
    while gateway.get(f"{API}/executions/{execution_id}", headers=user).json()["status"] != "completed":
        assert time.monotonic() < deadline, "no verdict"
        time.sleep(0.2)

    def gateway_span() -> CollectedSpan | None:
        return next(
            (
                s
                for s in list(collector.spans)
                if s.service == "gateway"
                and s.kind == "SERVER"
                and s.attributes.get("algoitny.request_id") == request_id
            ),
            None,
        )

    root = eventually(gateway_span, timeout_s=20)
    assert root.parent_span_id == "" and root.trace_id != client_parent.split("-")[1]
    assert root.name == "POST /api/v1/executions"

    def whole_trace() -> list[CollectedSpan] | None:
        spans = collector.trace(root.trace_id)
        consumers = {(s.service, s.attributes.get("algoitny.event_type")) for s in spans if s.kind == "CONSUMER"}
        wanted = {("executions", "executions.ExecutionSubmitted"), ("stats", "executions.ExecutionCompleted")}
        return spans if wanted <= consumers else None

    spans = eventually(whole_trace, timeout_s=30, interval_s=0.3)
    services = {s.service for s in spans}
    assert {"gateway", "ratelimit", "executions", "stats"} <= services, services
    by_id = {s.span_id: s for s in spans}
    # every span but the gateway's hangs off another span of this trace: one tree
    orphans = [s for s in spans if s is not root and s.parent_span_id not in by_id]
    assert not orphans, orphans
    judged = next(s for s in spans if s.kind == "CONSUMER" and s.service == "executions")
    assert by_id[judged.parent_span_id].kind == "PRODUCER"  # the relay's publish of ExecutionSubmitted
    counted = next(
        s
        for s in spans
        if s.kind == "CONSUMER"
        and s.service == "stats"
        and s.attributes.get("algoitny.event_type") == "executions.ExecutionCompleted"
    )
    published = by_id[counted.parent_span_id]
    assert published.kind == "PRODUCER" and published.attributes.get("algoitny.event_type") == (
        "executions.ExecutionCompleted"
    )
    # the judge's completion event descends from the judge worker's consumer span
    cursor = published
    while cursor.parent_span_id and cursor is not judged:
        cursor = by_id[cursor.parent_span_id]
    assert cursor is judged
