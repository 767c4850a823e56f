"""First slice end to end: gateway -> problems (outbox) -> Kafka -> search indexer -> OpenSearch."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import httpx
import pytest
from support.kafka_tools import produce, read_topic
from support.polling import eventually, metric_value

from algoitny_devtools.platform import Platform
from algoitny_problems.adapters.tables import PROBLEMS, PROBLEMS_OUTBOX
from algoitny_shared.dynamo import dynamodb, from_item
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.outbox import LEASE_S, shard_of
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import PROBLEM_EVENTS, SEARCH_INDEXER_GROUP, dead_letter_topic

pytestmark = pytest.mark.e2e
SEARCH_DEADLINE_S = 15.0


def _problem(problem_id: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "e2e",
        "problem_id": problem_id,
        "title": title,
        "tags": ["testing"],
        "status": "completed",
        "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
        **extra,
    }


def _hits(gateway: httpx.Client, q: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    resp = gateway.get("/api/v1/problems/search", params={"q": q}, headers=headers or {})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]  # type: ignore[no-any-return]


def _find(gateway: httpx.Client, problem_id: str, title: str) -> list[dict[str, Any]]:
    return [h for h in _hits(gateway, title) if h["problem_id"] == problem_id]


def test_create_then_find_through_search(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    pid = f"c{uuid.uuid4().hex[:6]}"
    title = f"Zebra crossing {pid}"
    resp = gateway.post("/api/v1/problems", json=_problem(pid, title), headers=admin_headers)
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"] == f"/api/v1/problems/e2e/{pid}"
    assert resp.json()["samples"] == [{"input": "1 2\n", "output": "3\n", "is_sample": True}]

    got = gateway.get(f"/api/v1/problems/e2e/{pid}")
    assert got.status_code == 200 and got.json()["title"] == title
    assert got.json()["reference_solution"] is None

    hits = eventually(lambda: _find(gateway, pid, title), timeout_s=SEARCH_DEADLINE_S)
    assert hits[0]["title"] == title and hits[0]["status"] == "completed"


def test_signed_in_demo_admin_can_register(gateway: httpx.Client) -> None:
    login = gateway.post("/api/v1/auth/login", json={"email": "admin@algoitny.dev", "password": "change-me-admin-1"})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    pid = f"a{uuid.uuid4().hex[:6]}"
    resp = gateway.post(
        "/api/v1/problems", json=_problem(pid, "Signed in"), headers={"authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 201, resp.text
    wrong = gateway.post("/api/v1/auth/login", json={"email": "admin@algoitny.dev", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "UNAUTHENTICATED"


def test_drafts_are_hidden_from_anonymous_readers(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    pid = f"d{uuid.uuid4().hex[:6]}"
    title = f"Secret draft {pid}"
    assert (
        gateway.post("/api/v1/problems", json=_problem(pid, title, status="draft"), headers=admin_headers).status_code
        == 201
    )
    eventually(lambda: [h for h in _hits(gateway, title, admin_headers) if h["problem_id"] == pid])
    assert _find(gateway, pid, title) == []
    assert gateway.get(f"/api/v1/problems/e2e/{pid}").status_code == 404
    assert gateway.get(f"/api/v1/problems/e2e/{pid}", headers=admin_headers).status_code == 200


def _expect_problem(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == code and body["detail"] and body["request_id"]


def test_bad_input_gets_problem_json_never_500(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    json_headers = {**admin_headers, "content-type": "application/json"}
    _expect_problem(
        gateway.post("/api/v1/problems", content=b'{"platform": ', headers=json_headers), 400, "MALFORMED_JSON"
    )
    resp = gateway.post("/api/v1/problems", json={**_problem("u1", "x"), "surprise": 1}, headers=admin_headers)
    _expect_problem(resp, 422, "VALIDATION_FAILED")
    assert resp.json()["instance"] == "/api/v1/problems"
    _expect_problem(
        gateway.post("/api/v1/problems", content=b"x" * (2 * 1024 * 1024), headers=json_headers),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    _expect_problem(
        gateway.post(
            "/api/v1/problems",
            json=_problem("u2", "x", tags=["t"] * 0 + [f"t{i}" for i in range(21)]),
            headers=admin_headers,
        ),
        422,
        "VALIDATION_FAILED",
    )
    _expect_problem(gateway.post("/api/v1/problems", json=_problem("u3", "x")), 401, "UNAUTHENTICATED")
    _expect_problem(
        gateway.post("/api/v1/problems", json=_problem("u3", "x"), headers={"authorization": "Bearer forged"}),
        401,
        "UNAUTHENTICATED",
    )
    _expect_problem(gateway.get("/api/v1/problems/e2e/does-not-exist"), 404, "NOT_FOUND")
    _expect_problem(gateway.get("/api/v1/problems/BAD%20PLATFORM/1"), 422, "VALIDATION_FAILED")
    _expect_problem(
        gateway.get("/api/v1/problems/search", params={"q": "a", "cursor": "tampered"}), 400, "INVALID_CURSOR"
    )
    _expect_problem(gateway.get("/api/v1/problems/search", params={"q": ""}), 422, "VALIDATION_FAILED")
    _expect_problem(gateway.get("/api/v1/nowhere"), 404, "NOT_FOUND")

    pid = f"x{uuid.uuid4().hex[:6]}"
    assert gateway.post("/api/v1/problems", json=_problem(pid, "Twice"), headers=admin_headers).status_code == 201
    _expect_problem(
        gateway.post("/api/v1/problems", json=_problem(pid, "Twice"), headers=admin_headers), 409, "ALREADY_EXISTS"
    )


def test_openapi_document_covers_the_public_routes(gateway: httpx.Client) -> None:
    doc = gateway.get("/openapi.json").json()
    for path in ("/api/v1/problems", "/api/v1/problems/{platform}/{problem_id}", "/api/v1/problems/search"):
        assert path in doc["paths"], path
    assert "NewProblem" in doc["components"]["schemas"]


def _search_indexer_metric(platform: Platform, outcome: str) -> float:
    text = httpx.get(f"{platform.url('search-indexer')}/metrics", timeout=5).text
    return metric_value(
        text,
        "algoitny_events_consumed_total",
        consumer=SEARCH_INDEXER_GROUP,
        event_type="problems.ProblemCreated",
        outcome=outcome,
    )


def test_crash_between_commit_and_publish_loses_nothing_and_duplicates_change_nothing(
    platform: Platform, gateway: httpx.Client, admin_headers: dict[str, str], bootstrap: str
) -> None:
    settings = ServiceSettings()
    pid = f"k{uuid.uuid4().hex[:6]}"
    title = f"Crash survivor {pid}"

    platform.kill("problems", 15)
    crashing = platform.start("problems", {"ALGOITNY_FAULT_POINTS": "crash_after_commit"})
    platform.wait_ready(["problems"])
    resp = gateway.post("/api/v1/problems", json=_problem(pid, title), headers=admin_headers)
    assert resp.status_code in (502, 503), resp.text  # the service died mid-request
    assert crashing.wait(timeout=10) == -9  # SIGKILL, right after the DynamoDB commit

    client = dynamodb(settings)
    stored = client.get_item(
        TableName=PROBLEMS.physical(settings.namespace), Key={"platform": {"S": "e2e"}, "problem_id": {"S": pid}}
    )
    assert "Item" in stored, "the commit happened"
    pending = client.query(
        TableName=PROBLEMS_OUTBOX.physical(settings.namespace),
        IndexName="PendingIndex",
        KeyConditionExpression="pending = :p",
        ExpressionAttributeValues={":p": {"S": shard_of(f"e2e/{pid}")}},
    )["Items"]
    mine = [from_item(i) for i in pending if from_item(i)["aggregate_id"] == f"e2e/{pid}"]
    assert len(mine) == 1, "its event waits in the outbox, unpublished"
    envelope = EventEnvelope.model_validate_json(mine[0]["envelope"])
    assert _find(gateway, pid, title) == []

    platform.start("problems")  # restart without the fault: the relay delivers the event
    platform.wait_ready(["problems"])
    # once the killed relay's shard leases have run out (it could not give them back)
    hits = eventually(lambda: _find(gateway, pid, title), timeout_s=SEARCH_DEADLINE_S + LEASE_S)
    assert len(hits) == 1

    # Redeliver the very same event twice: the external version absorbs it (counted as duplicates).
    before = _search_indexer_metric(platform, "duplicate")
    topic = PROBLEM_EVENTS.physical(settings.namespace)
    for _ in range(2):
        asyncio.run(produce(bootstrap, topic, envelope.to_bytes(), key=envelope.key))
    eventually(lambda: _search_indexer_metric(platform, "duplicate") >= before + 2, timeout_s=SEARCH_DEADLINE_S)
    assert len(_find(gateway, pid, title)) == 1
    doc = httpx.get(
        f"{os.environ['ALGOITNY_OPENSEARCH_URL']}/{settings.namespace}-problems/_doc/e2e%2F{pid}", timeout=5
    ).json()
    assert doc["_version"] == 1 and doc["_source"]["title"] == title


def test_poison_events_go_to_the_dead_letter_topic_and_indexing_goes_on(
    platform: Platform, gateway: httpx.Client, admin_headers: dict[str, str], bootstrap: str
) -> None:
    settings = ServiceSettings()
    topic = PROBLEM_EVENTS.physical(settings.namespace)
    dlq = dead_letter_topic(SEARCH_INDEXER_GROUP).physical(settings.namespace)
    marker = uuid.uuid4().hex[:8]
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    # A well-formed event that always fails: OpenSearch refuses versions beyond a Java long.
    failing = REGISTRY.envelope(
        ProblemCreated(
            platform="e2e", problem_id=f"p{marker}", title="poison", status="completed", created_at=now, updated_at=now
        ),
        producer="problems",
        aggregate_id=f"e2e/p{marker}",
        aggregate_version=2**63,
    )
    undecodable = json.dumps({"marker": marker}).encode()
    asyncio.run(produce(bootstrap, topic, undecodable, key=b"poison"))
    asyncio.run(produce(bootstrap, topic, failing.to_bytes(), key=failing.key))

    pid = f"n{uuid.uuid4().hex[:6]}"
    title = f"After the poison {pid}"
    assert gateway.post("/api/v1/problems", json=_problem(pid, title), headers=admin_headers).status_code == 201
    eventually(lambda: _find(gateway, pid, title), timeout_s=SEARCH_DEADLINE_S + 10)

    def dead_letters() -> dict[str, Any] | None:
        records = asyncio.run(read_topic(bootstrap, dlq, expect=1, timeout_s=3))
        found = {}
        for r in records:
            headers = {k: v.decode() for k, v in r.headers}
            if r.value == undecodable:
                found["undecodable"] = headers
            elif b'"poison"' in r.value and marker.encode() in r.value:
                found["failing"] = headers
        return found if len(found) == 2 else None

    found = eventually(dead_letters, timeout_s=30, interval_s=1)
    assert found["undecodable"]["x-dlq-reason"] == "undecodable"
    assert found["failing"]["x-dlq-reason"] in ("handler_failed", "invalid_payload")
    assert found["failing"]["x-dlq-error"]
    assert found["failing"]["x-dlq-source-topic"] == topic
