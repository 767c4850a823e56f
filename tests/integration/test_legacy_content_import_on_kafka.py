"""The problems, executions and hints legacy importers on real Kafka and moto.

Debezium-shaped records (JSON converter without schemas, ``ExtractNewRecordState`` with
``__op``/``__lsn``/``__source_ts_ms``/``__deleted``; docs: MIGRATION.md) are produced onto
``<namespace>.legacy.public.<table>`` and the three importer processes (started with their real
entrypoints) apply them: a test case before its problem, a big case, Korean titles, updates,
deletes, redelivery, bad rows, an orphan, pause/resume, and verify's digests and quarantine
through each importer's internal API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.kafka_tools import produce, read_topic
from support.legacy_content_tools import (
    BIG,
    SECRET,
    SOURCE,
    Importers,
    case_row,
    problem_row,
    run_row,
    running_importers,
    send,
)
from support.polling import eventually

from algoitny_executions.adapters.tables import SEARCH_HISTORY
from algoitny_hints.adapters.tables import HINTS
from algoitny_problems.adapters.tables import PROBLEMS
from algoitny_shared.dynamo import dynamodb, from_item
from algoitny_shared.identity import Identity, IdentitySigner
from algoitny_shared.legacy.canonical import row_digest
from algoitny_shared.legacy.changes import parse_change
from algoitny_shared.legacy.identity import legacy_execution_id, legacy_user_id
from algoitny_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def importers(
    stack_env: dict[str, str], provisioned: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Importers]:
    with running_importers(stack_env, tmp_path_factory.mktemp("legacy-importers")) as found:
        yield found


def problem_item(client: Any, namespace: str, problem_id: str) -> dict[str, Any] | None:
    resp = client.get_item(
        TableName=PROBLEMS.physical(namespace),
        Key={"platform": {"S": "baekjoon"}, "problem_id": {"S": problem_id}},
        ConsistentRead=True,
    )
    return from_item(resp["Item"]) if resp.get("Item") else None


def digest_of(table: str, service: str, row: dict[str, Any]) -> str:
    change = parse_change(table, None, json.dumps(row))
    assert change is not None
    return row_digest(table, service, change.typed().columns())


async def events(imp: Importers, topic: str, aggregate: str, expect: int) -> list[dict[str, Any]]:
    records = await read_topic(
        imp.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"],
        f"{imp.env['ALGOITNY_NAMESPACE']}.{topic}",
        expect=expect,
        timeout_s=8,
        match=lambda r: r.key == aggregate.encode(),
    )
    return [json.loads(r.value) for r in records]


async def test_problems_and_test_cases_arrive_in_any_order_and_apply_once(importers: Importers) -> None:
    imp = importers
    ns = imp.env["ALGOITNY_NAMESPACE"]
    client = dynamodb(ServiceSettings(service_name="tests"))
    # The test cases come first (their topic is not ordered with the problems'): they wait staged.
    await send(imp, "test_cases", case_row(9002, 501, BIG, "2024-03-01T10:00:02Z"))
    await send(imp, "test_cases", case_row(9001, 501, "1 2\n", "2024-03-01T10:00:01Z"))
    await asyncio.sleep(1.0)
    assert problem_item(client, ns, "91000") is None
    problem = problem_row(501, "91000", "두 수의 합 (Korean)")
    await send(imp, "problems", problem, op="r")

    def with_cases() -> dict[str, Any] | None:
        item = problem_item(client, ns, "91000")
        return item if item and item.get("test_case_count") == 2 else None

    item = eventually(with_cases, timeout_s=30)
    assert item["status"] == "completed" and item["reference_solution"] == SOURCE and item["language"] == "python3"
    created = await events(imp, "problems.events", "baekjoon/91000", expect=2)
    assert [e["event_type"] for e in created][:1] == ["problems.ProblemCreated"]

    # Redelivery and a re-snapshot of the same rows change nothing and publish nothing.
    before = len(await events(imp, "problems.events", "baekjoon/91000", expect=99))
    await send(imp, "problems", problem, op="r")
    await send(imp, "test_cases", case_row(9001, 501, "1 2\n", "2024-03-01T10:00:01Z"), op="r")
    # An update and a delete, applied within seconds.
    await send(imp, "problems", {**problem, "title": "두 수의 합 (수정)"}, op="u")
    await send(imp, "test_cases", case_row(9002, 501, BIG, "2024-03-01T10:00:02Z"), op="d", deleted=True)
    eventually(
        lambda: (
            (i := problem_item(client, ns, "91000")) and i["title"] == "두 수의 합 (수정)" and i["test_case_count"] == 1
        ),
        timeout_s=30,
    )
    after = await events(imp, "problems.events", "baekjoon/91000", expect=before + 2)
    types = [e["event_type"] for e in after[before:]]
    assert types.count("problems.ProblemUpdated") == 1 and "problems.ProblemCreated" not in types

    # A draft and a deleted problem keep their state; a row with non-list tags is quarantined.
    await send(imp, "problems", problem_row(502, "91001", "Draft one", is_completed=False))
    await send(imp, "problems", problem_row(503, "91002", "Gone", is_deleted=True, deleted_at="2024-04-01T00:00:00Z"))
    await send(imp, "problems", problem_row(504, "91003", "Bad tags", tags=json.dumps({"not": "a list"})))
    await produce(
        imp.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"], f"{imp.prefix}.public.problems", b"{not json", b'{"id": 505}'
    )
    eventually(lambda: (i := problem_item(client, ns, "91001")) and i["status"] == "draft", timeout_s=20)
    eventually(lambda: (i := problem_item(client, ns, "91002")) and i["status"] == "deleted", timeout_s=20)

    def quarantined() -> list[dict[str, Any]] | None:
        items = imp.get("problems", "/internal/legacy/quarantine")["items"]
        return items if len(items) >= 2 else None

    items = {q["key"]: q for q in eventually(quarantined, timeout_s=20)}
    assert "not a JSON list" in items["504"]["reason"] and items["504"]["row"]["title"] == "Bad tags"
    assert "not a legacy change" in items["505"]["reason"]

    # verify: digests rebuilt from the service's items equal the legacy rows'.
    digests = {d["key"]: d["digest"] for d in imp.get("problems", "/internal/legacy/problems/digests")["items"]}
    assert digests["501"] == digest_of("problems", "problems", {**problem, "title": "두 수의 합 (수정)"})
    cases = {d["key"]: d["digest"] for d in imp.get("problems", "/internal/legacy/test_cases/digests")["items"]}
    assert cases == {"9001": digest_of("test_cases", "problems", case_row(9001, 501, "1 2\n", "2024-03-01T10:00:01Z"))}

    def settled() -> dict[str, Any] | None:  # the status counters follow the rows' own states
        tables = {t["table"]: t for t in imp.get("problems", "/internal/legacy/status")["tables"]}
        return tables if tables["test_cases"]["deleted"] == 1 else None

    status = eventually(settled, timeout_s=20)
    assert status["problems"]["imported"] == 3 and status["problems"]["quarantined"] >= 2
    assert status["test_cases"]["imported"] == 1 and status["test_cases"]["deleted"] == 1

    # A test case whose problem never comes is quarantined as a broken reference, and imported
    # once the problem arrives after all.
    await send(imp, "test_cases", case_row(9100, 777, "5\n", "2024-03-02T00:00:00Z"))

    def orphan() -> dict[str, Any] | None:
        items = imp.get("problems", "/internal/legacy/quarantine")["items"]
        return next((q for q in items if q["table"] == "test_cases" and q["key"] == "9100"), None)

    assert "broken reference" in eventually(orphan, timeout_s=30)["reason"]
    await send(imp, "problems", problem_row(777, "91777", "Late problem"))
    eventually(lambda: (i := problem_item(client, ns, "91777")) and i["test_case_count"] == 1, timeout_s=30)
    eventually(lambda: orphan() is None, timeout_s=10)


async def test_history_and_hints_import_without_judging_or_charging(importers: Importers) -> None:
    imp = importers
    ns = imp.env["ALGOITNY_NAMESPACE"]
    client = dynamodb(ServiceSettings(service_name="tests"))
    later = run_row(
        8002,
        "2024-05-02T09:00:00Z",
        result_summary=json.dumps("Failed"),
        failed_count=1,
        test_results=json.dumps([{"passed": False, "error": "Timed out", "status": "error", "output": ""}]),
        hints=json.dumps(["Look at the limits", "Use a faster loop"]),
        is_code_public=True,
    )
    earlier = run_row(8001, "2024-05-01T09:00:00Z")
    anonymous = run_row(8003, "2024-05-03T09:00:00Z", user_id=None, user_identifier="anonymous")
    for row in (later, earlier, anonymous):
        await send(imp, "search_history", row)
    ids = {r["id"]: legacy_execution_id(r["id"], _ms(r["created_at"])) for r in (later, earlier, anonymous)}
    assert ids[8001] < ids[8002] < ids[8003]  # history keeps its original order

    def history(eid: str) -> dict[str, Any] | None:
        resp = client.get_item(
            TableName=SEARCH_HISTORY.physical(ns), Key={"execution_id": {"S": eid}}, ConsistentRead=True
        )
        return from_item(resp["Item"]) if resp.get("Item") else None

    item = eventually(lambda: history(ids[8002]), timeout_s=30)
    assert item["verdict"] == "TLE" and item["user_id"] == legacy_user_id(7) and item["public"] is True
    assert item["status"] == "completed" and item["language"] == "python3"
    assert eventually(lambda: history(ids[8003]), timeout_s=20)["user_id"] == "legacy-anonymous"

    completed = await events(imp, "executions.events", ids[8002], expect=1)
    assert [e["event_type"] for e in completed] == ["executions.ExecutionCompleted"]
    payload = completed[0]["payload"]
    assert payload["completed_at"].startswith("2024-05-02T09:00:00") and payload["charge"] is None
    assert payload["language"] == "python3" and payload["verdict"] == "TLE"
    jobs = await read_topic(imp.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"], f"{ns}.executions.jobs", expect=1, timeout_s=2)
    assert jobs == []  # nothing was sent to the judge

    def hints() -> dict[str, Any] | None:
        resp = client.get_item(
            TableName=HINTS.physical(ns),
            Key={"pk": {"S": f"EXEC#{ids[8002]}"}, "sk": {"S": "LATEST"}},
            ConsistentRead=True,
        )
        return json.loads(from_item(resp["Item"])["view"]) if resp.get("Item") else None

    view = eventually(hints, timeout_s=20)
    assert [h["text"] for h in view["hints"]] == ["Look at the limits", "Use a faster loop"]

    # Redelivery publishes nothing more; a visibility update publishes its change; digests match.
    await send(imp, "search_history", later, op="r")
    await send(imp, "search_history", {**earlier, "is_code_public": True}, op="u")
    eventually(lambda: (i := history(ids[8001])) and i["public"] is True, timeout_s=20)
    again = await events(imp, "executions.events", ids[8002], expect=2)
    assert len(again) == 1
    changed = await events(imp, "executions.events", ids[8001], expect=2)
    assert [e["event_type"] for e in changed] == [
        "executions.ExecutionCompleted",
        "executions.ExecutionVisibilityChanged",
    ]
    digests = {d["key"]: d["digest"] for d in imp.get("executions", "/internal/legacy/search_history/digests")["items"]}
    assert digests["8002"] == digest_of("search_history", "executions", later)
    assert digests["8001"] == digest_of("search_history", "executions", {**earlier, "is_code_public": True})
    hint_digests = {d["key"]: d["digest"] for d in imp.get("hints", "/internal/legacy/search_history/digests")["items"]}
    assert hint_digests["8002"] == digest_of("search_history", "hints", later)
    assert hint_digests["8001"] == digest_of("search_history", "hints", earlier)

    # Pause holds the importer; resume goes on from where it stopped. A delete removes the run.
    assert imp.post("executions", "/internal/legacy/pause")["paused"] is True
    await send(imp, "search_history", earlier, op="d", deleted=True)
    await asyncio.sleep(2.5)
    assert history(ids[8001]) is not None
    imp.post("executions", "/internal/legacy/resume")
    eventually(lambda: history(ids[8001]) is None, timeout_s=20)


def test_internal_routes_refuse_anyone_but_an_admin(importers: Importers) -> None:
    url = importers.urls["problems"] + "/internal/legacy/status"
    assert httpx.get(url, timeout=5).status_code == 401
    user = IdentitySigner(SECRET).sign(Identity(user_id="u_x", role="user"), "GET", "/internal/legacy/status")
    assert httpx.get(url, headers={"x-algoitny-identity": user}, timeout=5).status_code == 403
    forged = IdentitySigner("another-secret-of-at-least-32-bytes!!").sign(
        Identity(user_id="ops", role="admin"), "GET", "/internal/legacy/status"
    )
    assert httpx.get(url, headers={"x-algoitny-identity": forged}, timeout=5).status_code == 401


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
