"""Every Problem/TestCase access pattern (AP-24..AP-51) against moto's DynamoDB and S3.

A botocore hook fails any Scan and counts the calls each path makes, so each test shows the
pattern is served by GetItem/Query on a key or GSI (see services/problems/README.md).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.problems_tools import CallRecorder, OutboxSpy

from algoitny_problems.adapters.control import upload_pk
from algoitny_problems.adapters.tables import PROBLEMS_INBOX
from algoitny_problems.adapters.test_cases import inline_item, location
from algoitny_problems.bootstrap import Container, build
from algoitny_problems.domain.models import NewProblem, ProblemPatch, TestCaseIn, TestSetIn
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.batch_write import MAX_BATCH_WRITE
from algoitny_shared.dynamo import to_item
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import ExecutionCompleted
from algoitny_shared.inbox import Inbox

pytestmark = [pytest.mark.integration, pytest.mark.long_file]

BIG = 1_200_000  # characters: a case over 1 MB goes gzipped to S3


@pytest.fixture(scope="module")
async def c(provisioned: dict[str, Any]) -> AsyncIterator[Container]:
    container = build(ProblemsSettings(consumers_enabled=False, test_set_gc_grace_s=60, test_set_stale_upload_s=120))
    yield container


@pytest.fixture(scope="module")
def spy(c: Container) -> Iterator[OutboxSpy]:
    watching = OutboxSpy(c.outbox, c.dynamodb)
    yield watching
    watching.detach()


@pytest.fixture(scope="module")
def calls(c: Container) -> Iterator[CallRecorder]:
    recorder = CallRecorder()
    recorder.attach(c.dynamodb, "dynamodb")
    recorder.attach(c.s3, "s3")
    yield recorder
    recorder.detach()


@pytest.fixture(autouse=True)
def no_scans(calls: CallRecorder) -> Any:
    yield
    assert calls.scans == [], "a Scan was issued"


def _pid() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


def _platform() -> str:
    return f"it{uuid.uuid4().hex[:6]}"


def _new(platform: str, problem_id: str, **extra: Any) -> NewProblem:
    data: dict[str, Any] = {"platform": platform, "problem_id": problem_id, "title": f"문제 {problem_id}"}
    return NewProblem.model_validate({**data, **extra})


def _cases(n: int, *, big: set[int] = frozenset(), tag: str = "") -> TestSetIn:  # type: ignore[assignment]
    return TestSetIn(
        test_cases=[
            TestCaseIn(
                input=(f"{i} {tag}\n" * (BIG // len(f"{i} {tag}\n") + 1 if i in big else 1)),
                output=f"{i * 2}{tag}\n",
                is_sample=i == 1,
            )
            for i in range(1, n + 1)
        ]
    )


async def _expect(code: ErrorCode, coro: Any) -> AppError:
    with pytest.raises(AppError) as err:
        await coro
    assert err.value.code is code, err.value.detail
    return err.value


# ---------------------------------------------------------------- single problems


async def test_create_read_by_key_and_by_id_and_duplicate(c: Container, spy: OutboxSpy, calls: CallRecorder) -> None:
    """AP-24, AP-25, AP-34, AP-35, AP-37."""
    platform, pid = _platform(), _pid()
    cmd = _new(
        platform,
        pid,
        language="cpp",
        constraints="1 <= n <= 10^5",
        test_cases=[{"input": "1 2\n", "output": "3\n", "is_sample": True}, {"input": "5 5\n", "output": "10\n"}],
    )
    created = await c.service.create(cmd, actor="admin")
    assert created.id >= 1 and created.test_case_count == 2 and created.samples[0].input == "1 2\n"

    with calls.window() as used:
        view = await c.service.get(platform, pid, can_manage=True)
    assert used == {"GetItem": 1}, used  # AP-25: one GetItem, samples on the item
    assert view.title == f"문제 {pid}" and view.constraints == "1 <= n <= 10^5"

    with calls.window() as used:
        by_id = await c.service.load_by_id(created.id, can_manage=True)
    assert used == {"Query": 1}, used  # AP-24: IdIndex
    assert by_id.key == f"{platform}/{pid}"

    await _expect(ErrorCode.ALREADY_EXISTS, c.service.create(_new(platform, pid), actor="admin"))  # AP-34
    await _expect(ErrorCode.NOT_FOUND, c.service.get(platform, pid, can_manage=False))  # draft hidden
    await _expect(ErrorCode.NOT_FOUND, c.service.get(platform, "nope", can_manage=True))
    [event] = await spy.events(c.dynamodb, f"{platform}/{pid}")
    assert event.event_type == "problems.ProblemCreated" and event.aggregate_version == 1


async def test_hot_path_problem_with_test_cases_one_query_and_parallel_s3(c: Container, calls: CallRecorder) -> None:
    """AP-26, AP-27 (H2), AP-47, AP-48: one GetItem, one Query for the inline cases, S3 in parallel."""
    platform, pid = _platform(), _pid()
    await c.service.create(_new(platform, pid, status="completed"), actor="admin")
    result = await c.test_sets.write(platform, pid, _cases(30, big={7, 19}), "replace")
    assert result.test_case_count == 30 and result.stored_in_s3 == 2

    with calls.window() as used:
        problem = await c.service.load_visible(platform, pid, can_manage=False)
        full = await c.test_sets.with_test_cases(problem, can_manage=False)
    assert used == {"GetItem": 1, "Query": 1, "GetObject": 2}, used
    assert full.test_case_count == 30 and len(full.test_cases or []) == 30  # AP-47/48: count on the item
    cases = full.test_cases or []
    assert [t.ordinal for t in cases] == list(range(1, 31))
    assert cases[6].stored == "s3" and len(cases[6].input) > 1_000_000 and cases[6].output == "14\n"
    assert cases[0].stored == "inline" and cases[0].is_sample and full.samples[0].input == cases[0].input
    assert full.reference_solution is None

    # The S3 object is gzip, and the item holds its key, size and checksum.
    loc = location(platform, pid, problem.incarnation)
    items, _ = await c.store.query_version(loc, problem.test_set_version, limit=10, after_ordinal=6)
    item = items[0]
    assert item["stored"] == "s3" and item["s3_key"].startswith(loc.s3_prefix) and "input" not in item
    obj = await asyncio.to_thread(c.s3.get_object, Bucket=c.settings.bucket(), Key=item["s3_key"])
    raw = gzip.decompress(obj["Body"].read())
    assert hashlib.sha256(raw).hexdigest() == item["sha256"]
    assert item["size"] == len(cases[6].input.encode()) + len(cases[6].output.encode())
    assert item["compressed_size"] < item["size"] / 10

    # By numeric id (AP-26) the same way.
    with calls.window() as used:
        by_id = await c.service.load_by_id(problem.id, can_manage=False)
        again = await c.test_sets.with_test_cases(by_id, can_manage=False)
    assert used == {"Query": 2, "GetObject": 2}, used
    assert [t.output for t in again.test_cases or []] == [t.output for t in cases]


async def test_test_cases_paged_by_signed_cursor_and_selected_by_ordinal(c: Container, calls: CallRecorder) -> None:
    """Paging the current set; AP-49 (selected cases by id); tampered and stale cursors."""
    platform, pid = _platform(), _pid()
    await c.service.create(_new(platform, pid, status="completed"), actor="admin")
    await c.test_sets.write(platform, pid, _cases(60), "replace")
    problem = await c.service.load_visible(platform, pid, can_manage=False)

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        with calls.window() as used:
            page = await c.test_sets.page(problem, limit=25, cursor=cursor)
        assert used == {"Query": 1}, used
        seen += [t.ordinal for t in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(1, 61)) and pages == 3

    first = await c.test_sets.page(problem, limit=25, cursor=None)
    assert first.next_cursor
    tampered = first.next_cursor[:-2] + ("A" if first.next_cursor[-2] != "A" else "B") + first.next_cursor[-1]
    await _expect(ErrorCode.INVALID_CURSOR, c.test_sets.page(problem, limit=25, cursor=tampered))
    await _expect(ErrorCode.INVALID_CURSOR, c.test_sets.page(problem, limit=25, cursor="garbage"))

    with calls.window() as used:
        picked = await c.test_sets.page(problem, limit=25, cursor=None, ordinals=[3, 41, 60])
    assert used == {"BatchGetItem": 1}, used
    assert [(t.ordinal, t.output) for t in picked.items] == [(3, "6\n"), (41, "82\n"), (60, "120\n")]

    await c.test_sets.write(platform, pid, _cases(5), "replace")
    newer = await c.service.load_visible(platform, pid, can_manage=False)
    await _expect(ErrorCode.CONFLICT, c.test_sets.page(newer, limit=25, cursor=first.next_cursor))


async def test_replace_append_idempotency_and_events(c: Container, spy: OutboxSpy, calls: CallRecorder) -> None:
    """AP-50 (replace), append, AP-51 (outputs = a replace); Idempotency-Key; TestSetReplaced."""
    platform, pid = _platform(), _pid()
    await c.service.create(
        _new(platform, pid, test_cases=[{"input": "0\n", "output": "0\n", "is_sample": True}]), actor="admin"
    )
    key = f"k-{uuid.uuid4().hex}"
    with calls.window() as used:
        first = await c.test_sets.write(platform, pid, _cases(60), "replace", key)
    assert first.test_set_version == 2 and first.previous_version == 1 and first.test_case_count == 60
    assert used["BatchWriteItem"] == 3  # 60 cases in chunks of at most 25
    assert "Scan" not in used

    again = await c.test_sets.write(platform, pid, _cases(60), "replace", key)
    assert again.replayed and again.test_set_version == 2
    await _expect(ErrorCode.CONFLICT, c.test_sets.write(platform, pid, _cases(61), "replace", key))

    appended = await c.test_sets.write(platform, pid, _cases(3, tag="new"), "append", f"a-{key}")
    assert appended.test_set_version == 3 and appended.test_case_count == 63
    problem = await c.service.load_visible(platform, pid, can_manage=True)
    full = await c.test_sets.with_test_cases(problem, can_manage=True)
    outputs = [t.output for t in full.test_cases or []]
    assert outputs[:60] == [f"{i * 2}\n" for i in range(1, 61)] and outputs[60:] == ["2new\n", "4new\n", "6new\n"]
    assert problem.test_case_count == 63 and problem.test_set_seq == 3

    events = await spy.events(c.dynamodb, problem.key)
    replaced = [e for e in events if e.event_type == "problems.TestSetReplaced"]
    assert [(REGISTRY.decode(e).test_set_version, REGISTRY.decode(e).test_case_count) for e in replaced] == [
        (2, 60),
        (3, 63),
    ]
    assert [e.aggregate_version for e in events] == [1, 2, 3]
    assert "input" not in replaced[0].payload and "test_cases" not in replaced[0].payload


async def test_lists_newest_first_with_cursors(c: Container, calls: CallRecorder) -> None:
    """AP-28, AP-29, AP-31, AP-32, AP-33, AP-43, AP-45, AP-46: GSI queries, newest first."""
    platform = _platform()
    made = []
    for n in range(5):
        pid = f"L{n}{uuid.uuid4().hex[:4]}"
        language = "java" if n % 2 == 0 else "python"
        status = "completed" if n < 4 else "draft"
        await c.service.create(_new(platform, pid, language=language, status=status), actor="admin")
        made.append((pid, language, status))

    pages: list[list[str]] = []
    cursor = None
    while True:
        with calls.window() as used:
            page = await c.service.list_problems(
                status="completed", platform=platform, language=None, limit=2, cursor=cursor, can_manage=False
            )
        assert used == {"Query": 1}, used  # PlatformIndex
        pages.append([p.problem_id for p in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    listed = [pid for page in pages for pid in page]
    assert listed == [m[0] for m in reversed(made) if m[2] == "completed"]  # newest first

    java = await c.service.list_problems(
        status="completed", platform=platform, language="java", limit=10, cursor=None, can_manage=False
    )
    assert [p.problem_id for p in java.items] == [made[2][0], made[0][0]]
    with calls.window() as used:
        by_language = await c.service.list_problems(
            status="completed", platform=None, language="python", limit=100, cursor=None, can_manage=False
        )
    assert used == {"Query": 1}, used  # LanguageIndex
    mine = [p.problem_id for p in by_language.items if p.platform == platform]
    assert mine == [made[3][0], made[1][0]]

    drafts = await c.service.list_problems(
        status="draft", platform=None, language=None, limit=100, cursor=None, can_manage=True
    )  # CompletionIndex
    assert made[4][0] in [p.problem_id for p in drafts.items]
    assert all(p.status == "draft" for p in drafts.items)
    created = [p.created_at for p in drafts.items]
    assert created == sorted(created, reverse=True)
    await _expect(
        ErrorCode.FORBIDDEN,
        c.service.list_problems(status="draft", platform=None, language=None, limit=5, cursor=None, can_manage=False),
    )
    first = await c.service.list_problems(
        status="completed", platform=platform, language=None, limit=1, cursor=None, can_manage=False
    )
    assert first.next_cursor and first.items[0].test_case_count == 0  # AP-46: count on the item
    await _expect(
        ErrorCode.INVALID_CURSOR,
        c.service.list_problems(
            status="completed",
            platform=platform,
            language=None,
            limit=1,
            cursor=first.next_cursor + "x",
            can_manage=False,
        ),
    )
    await _expect(  # a cursor from one listing is no good for another
        ErrorCode.INVALID_CURSOR,
        c.service.list_problems(
            status="completed", platform=None, language="java", limit=1, cursor=first.next_cursor, can_manage=False
        ),
    )

    with calls.window() as used:
        platforms = await c.service.platforms()
    assert platform in platforms and used == {"GetItem": 1}  # AP-43
    stats = await c.service.stats()  # AP-45: Select=COUNT queries
    assert stats.completed >= 4 and stats.draft >= 1


async def test_lifecycle_edit_complete_soft_and_hard_delete(c: Container, spy: OutboxSpy, calls: CallRecorder) -> None:
    """AP-36/38 (edit), AP-39 (complete), AP-40 (soft delete), AP-41 (hard delete)."""
    platform, pid = _platform(), _pid()
    await c.service.create(_new(platform, pid, reference_solution="print(1)"), actor="admin")
    await c.test_sets.write(platform, pid, _cases(40, big={3}), "replace")

    edited = await c.service.update(platform, pid, ProblemPatch(title="Renamed", tags=["DP", "dp"]))
    assert edited.title == "Renamed" and edited.tags == ["dp"] and edited.version == 3
    await _expect(ErrorCode.CONFLICT, c.service.update(platform, pid, ProblemPatch(title="x"), expected_version=1))
    done = await c.service.complete(platform, pid)
    assert done.status == "completed" and done.version == 4
    await _expect(ErrorCode.CONFLICT, c.service.complete(platform, pid))
    public = await c.service.get(platform, pid, can_manage=False)
    assert public.reference_solution is None
    assert (await c.service.get(platform, pid, can_manage=True)).reference_solution == "print(1)"

    gone = await c.service.soft_delete(platform, pid, "duplicate")
    assert gone.status == "deleted" and gone.deleted_at is not None
    await _expect(ErrorCode.NOT_FOUND, c.service.get(platform, pid, can_manage=False))
    await _expect(ErrorCode.CONFLICT, c.service.update(platform, pid, ProblemPatch(title="y")))
    await _expect(ErrorCode.CONFLICT, c.test_sets.write(platform, pid, _cases(2), "replace"))
    await _expect(ErrorCode.CONFLICT, c.service.soft_delete(platform, pid, None))
    deleted_list = await c.service.list_problems(
        status="deleted", platform=platform, language=None, limit=5, cursor=None, can_manage=True
    )
    assert [p.problem_id for p in deleted_list.items] == [pid]

    problem = await c.service.load_visible(platform, pid, can_manage=True)
    loc = location(platform, pid, problem.incarnation)
    assert await c.store.count_objects(loc.s3_prefix) == 1
    removed = await c.service.hard_delete(platform, pid)
    assert removed == 40
    assert await c.store.query_all_keys(loc) == []
    assert await c.store.count_objects(loc.s3_prefix) == 0
    await _expect(ErrorCode.NOT_FOUND, c.service.get(platform, pid, can_manage=True))
    await _expect(ErrorCode.NOT_FOUND, c.service.hard_delete(platform, pid))
    events = await spy.events(c.dynamodb, f"{platform}/{pid}")
    assert [e.event_type.split(".")[1] for e in events] == [
        "ProblemCreated",
        "TestSetReplaced",
        "ProblemUpdated",
        "ProblemCompleted",
        "ProblemDeleted",
        "ProblemDeleted",
    ]
    assert [e.aggregate_version for e in events] == [1, 2, 3, 4, 5, 6]
    assert REGISTRY.decode(events[-1]).hard and not REGISTRY.decode(events[-2]).hard

    # The key is free again, and the new incarnation starts clean, its versions above the
    # hard delete's (search keeps the highest version it saw: a tombstone must not win).
    await c.service.create(_new(platform, pid), actor="admin")
    fresh = await c.service.load_visible(platform, pid, can_manage=True)
    assert fresh.incarnation != problem.incarnation and fresh.test_case_count == 0
    assert fresh.version == 7
    assert (await spy.events(c.dynamodb, f"{platform}/{pid}"))[-1].aggregate_version == 7


async def test_a_registrars_problems_count_against_the_plan_cap_in_the_create_transaction(c: Container) -> None:
    platform, registrar = _platform(), f"reg-{uuid.uuid4().hex[:8]}"
    for pid in ("a", "b"):
        await c.service.create(_new(platform, pid), actor=registrar, quota=(registrar, 2))
    over = await _expect(
        ErrorCode.FORBIDDEN, c.service.create(_new(platform, "c"), actor=registrar, quota=(registrar, 2))
    )
    assert over.extra["reason"] == "max_problems"
    await _expect(ErrorCode.NOT_FOUND, c.service.load_visible(platform, "c", can_manage=True))  # nothing written
    assert await c.control.registered(registrar) == 2
    await c.service.soft_delete(platform, "a", None)  # a soft-deleted problem still counts
    await _expect(ErrorCode.FORBIDDEN, c.service.create(_new(platform, "c"), actor=registrar, quota=(registrar, 2)))
    await c.service.hard_delete(platform, "a")  # a hard delete gives the slot back
    assert await c.control.registered(registrar) == 1
    await c.service.create(_new(platform, "c"), actor=registrar, quota=(registrar, 2))
    # Parallel creates cannot overshoot the cap: the count is conditional in each transaction.
    results = await asyncio.gather(
        *(c.service.create(_new(platform, f"p{i}"), actor=registrar, quota=(registrar, 4)) for i in range(6)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    assert await c.control.registered(registrar) == 4


async def test_gc_removes_superseded_and_abandoned_sets_only(c: Container) -> None:
    platform, pid = _platform(), _pid()
    await c.service.create(_new(platform, pid, status="completed"), actor="admin")
    await c.test_sets.write(platform, pid, _cases(30, big={2}), "replace")  # v1
    await c.test_sets.write(platform, pid, _cases(30, tag="b"), "replace")  # v2 current; v1 superseded
    problem = await c.service.load_visible(platform, pid, can_manage=False)
    loc = location(platform, pid, problem.incarnation)

    # An abandoned upload: a record and some chunks, never flipped (the writer died).
    abandoned = await c.repo.allocate_test_set_version(platform, pid)
    assert abandoned == 3
    await asyncio.to_thread(
        c.dynamodb.put_item,
        **c.control.put_upload(platform, pid, problem.incarnation, abandoned, stale_after_s=120)["Put"],
    )
    await c.store.batch_put(
        [inline_item(loc.problem_key, abandoned, o, TestCaseIn(input="x", output="y")) for o in range(1, 11)]
    )

    early = await c.gc.run_once(datetime.now(UTC))
    assert f"UPLOAD#{platform}#{pid}" not in " ".join(early.records)  # still in the grace period
    records: list[str] = []
    while True:
        report = await c.gc.run_once(datetime.now(UTC) + timedelta(seconds=600))
        records += report.records
        if report.visited == 0:
            break
    mine = [r for r in records if r.startswith(f"UPLOAD#{platform}#{pid}#")]
    assert sorted(mine) == [
        upload_pk(platform, pid, problem.incarnation, 1),
        upload_pk(platform, pid, problem.incarnation, 3),
    ]
    assert (await c.store.query_version(loc, 1))[0] == []
    assert (await c.store.query_version(loc, 3))[0] == []
    assert await c.store.count_objects(loc.version_prefix(1)) == 0
    current = await c.test_sets.with_test_cases(problem, can_manage=False)
    assert len(current.test_cases or []) == 30 and (current.test_cases or [])[0].output == "2b\n"

    # The CLI runs the same pass (nothing left for this problem).
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "algoitny_problems", "gc", "--ahead-s", "3600"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert set(json.loads(out.stdout.strip().splitlines()[-1])) >= {"visited", "versions_removed", "items_deleted"}


async def test_execution_count_from_events_counts_each_event_once(c: Container) -> None:
    """AP-42: an atomic ADD together with the inbox mark; duplicates and unknown problems are harmless."""
    platform, pid = _platform(), _pid()
    await c.service.create(_new(platform, pid, status="completed"), actor="admin")
    inbox = Inbox(c.dynamodb, PROBLEMS_INBOX, c.settings.namespace)
    assert inbox.table.endswith("problems-Inbox")

    def event(problem_id: str) -> Any:
        payload = ExecutionCompleted(
            execution_id=uuid.uuid4().hex,
            platform=platform,
            problem_id=problem_id,
            language="python",
            verdict="accepted",
            completed_at=datetime.now(UTC),
        )
        return REGISTRY.envelope(payload, producer="executions", aggregate_id=payload.execution_id, aggregate_version=1)

    first, second = event(pid), event(pid)
    for envelope in (first, second, first, event("missing")):
        await c.counter.on_execution_completed(envelope, REGISTRY.decode(envelope))
    problem = await c.service.load_visible(platform, pid, can_manage=False)
    assert problem.execution_count == 2
    # An edit never overwrites the counter.
    await c.service.update(platform, pid, ProblemPatch(title="Still counted"))
    assert (await c.service.get(platform, pid, can_manage=False)).execution_count == 2


async def test_batch_writes_never_exceed_25_items(c: Container, calls: CallRecorder) -> None:
    platform, pid = _platform(), _pid()
    await c.service.create(_new(platform, pid), actor="admin")
    sizes: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sizes.extend(len(v) for v in params["RequestItems"].values())

    c.dynamodb.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", record)
    try:
        await c.test_sets.write(platform, pid, _cases(101), "replace")
    finally:
        c.dynamodb.meta.events.unregister("before-parameter-build.dynamodb.BatchWriteItem", record)
    assert sum(sizes) == 101 and max(sizes) <= MAX_BATCH_WRITE
    with pytest.raises(ValueError):
        await c.store.batch_put([{"problem_key": "x", "case_key": f"{i}"} for i in range(26)])
    assert to_item({"a": 1})  # (keeps the import honest)


def test_the_scan_guard_itself_catches_a_scan(c: Container, calls: CallRecorder) -> None:
    with pytest.raises(AssertionError, match="Scan issued"):
        c.dynamodb.scan(TableName=c.repo.problems, Limit=1)
    assert len(calls.scans) == 1
    calls.scans.clear()
