"""The problems service's legacy handler (``problems``, ``test_cases``, ``script_generation_jobs``)
on the kit's importer, the in-process DynamoDB and S3 and the in-memory unit of work (no Kafka, no
Connect, no moto server): a legacy problem becomes a problem with its events, a redelivery changes
nothing, an update publishes what changed, a legacy delete removes it; test cases staged before
their problem become its test set once it arrives (an orphan is quarantined as a broken reference);
jobs become historical generation jobs; bad rows go to the quarantine with their reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo
from support.legacy_content_tools import case_row, problem_row, record
from support.legacy_unit import legacy_store, quarantined, unit_importer

from algoitny_problems.adapters.buckets import TEST_CASE_PAYLOADS
from algoitny_problems.adapters.control import ControlRepository
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.adapters.tables import PROBLEMS_LEGACY, PROBLEMS_QUARANTINE
from algoitny_problems.adapters.test_cases import TestCaseStore
from algoitny_problems.domain import legacy as rules
from algoitny_problems.domain.models import NewProblem
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.service_layer.legacy_import import LegacyTestSetFlusher, ProblemsLegacyHandler
from algoitny_problems.service_layer.maintenance import GarbageCollector
from algoitny_problems.service_layer.test_sets import TestSetService
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import from_item
from algoitny_shared.legacy.canonical import COMPARED, canonical_row
from algoitny_shared.legacy.identity import legacy_ulid
from algoitny_shared.legacy.rows import ScriptGenerationJobRow


class LegacyProblems:
    """The service's own parts on the in-process store, its legacy handler, importer and flusher."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.repo = ProblemRepository(store.client, store.namespace)
        self.cases = TestCaseStore(
            store.client,
            store.s3,
            self.repo.test_cases,
            TEST_CASE_PAYLOADS.physical(store.namespace),
            inline_max_bytes=64,
        )
        self.control = ControlRepository(store.client, self.repo.control)
        cursors = CursorCodec("c" * 32)
        self.jobs = GenerationJobRepository(store.client, store.namespace)
        gc = GarbageCollector(self.repo, self.cases, self.control, self.jobs)
        self.service = ProblemService(self.repo, store.uow, cursors, control=self.control, purge=gc.purge_now)  # type: ignore[arg-type]
        self.test_sets = TestSetService(
            self.repo,
            self.cases,
            self.control,
            store.uow,  # type: ignore[arg-type]
            cursors,
            gc_grace_s=0,
            stale_upload_s=60,
        )
        legacy = legacy_store(store, PROBLEMS_LEGACY, PROBLEMS_QUARANTINE)
        self.handler = ProblemsLegacyHandler(
            store.client, self.repo, self.service, legacy, self.cases, self.jobs, self.control
        )
        self.importer = unit_importer(store, self.handler, PROBLEMS_LEGACY, PROBLEMS_QUARANTINE, legacy=legacy)
        self.flusher = LegacyTestSetFlusher(
            store.client, self.handler, self.importer, self.test_sets, self.repo, interval_s=0.05, orphan_grace_s=0
        )

    async def handle(self, table: str, row: dict[str, Any], lsn: int, op: str = "c") -> str:
        return await self.importer.handle(table, *record(table, row, lsn=lsn, op=op, deleted=op == "d"))


@pytest.fixture
def lp() -> Iterator[LegacyProblems]:
    with in_process_dynamo("problems", buckets=True) as store:
        yield LegacyProblems(store)


async def test_problem_insert_redelivery_update_and_delete(lp: LegacyProblems) -> None:
    row = problem_row(501, "91000", "두 수의 합")
    assert await lp.handle("problems", row, 1) == "imported"
    problem = await lp.repo.get("baekjoon", "91000", consistent=True)
    assert problem is not None and problem.title == "두 수의 합" and problem.status == "completed"
    assert lp.store.types() == ["problems.ProblemCreated"]

    commits = lp.store.commits
    assert await lp.handle("problems", row, 1) == "duplicate"  # redelivered: nothing written or published
    assert lp.store.commits == commits and len(lp.store.events) == 1

    assert await lp.handle("problems", {**row, "title": "A+B"}, 2, "u") == "imported"
    assert (await lp.repo.get("baekjoon", "91000", consistent=True)).title == "A+B"  # type: ignore[union-attr]
    assert lp.store.payloads("problems.ProblemUpdated")[-1].title == "A+B"
    assert await lp.handle("problems", row, 1) == "stale"  # the older change arriving late loses

    assert await lp.handle("problems", {**row, "title": "A+B"}, 3, "d") == "deleted"
    assert await lp.repo.get("baekjoon", "91000", consistent=True) is None
    assert lp.store.payloads("problems.ProblemDeleted")[-1].problem_id == "91000"
    status = {t.table: t for t in (await lp.importer.status()).tables}["problems"]
    assert (status.imported, status.deleted, status.quarantined) == (0, 1, 0)


async def test_bad_and_duplicate_problems_are_quarantined_with_their_reason(lp: LegacyProblems) -> None:
    await lp.service.create(
        NewProblem(platform="baekjoon", problem_id="1000", title="Native"), "admin-1", quota=("admin-1", -1)
    )
    events = len(lp.store.events)
    assert await lp.handle("problems", problem_row(1, "1000", "A+B"), 1) == "quarantined"
    assert await lp.handle("problems", problem_row(2, "1001", "x", platform="no such/platform!"), 2) == "quarantined"
    assert await lp.handle("problems", problem_row(3, "1002", "x", tags='{"a": 1}'), 3) == "quarantined"
    unfit = {k: v for k, v in problem_row(4, "1003", "x").items() if k != "title"}
    assert await lp.handle("problems", unfit, 4) == "quarantined"
    reasons = await quarantined(lp.importer)
    assert "duplicate" in reasons["problems/1"] and "baekjoon/1000" in reasons["problems/1"]
    assert "not a valid platform name" in reasons["problems/2"]
    assert "tags" in reasons["problems/3"]
    assert "invalid row" in reasons["problems/4"] and "title" in reasons["problems/4"]
    assert (await lp.repo.get("baekjoon", "1000", consistent=True)).title == "Native"  # type: ignore[union-attr]
    assert len(lp.store.events) == events  # nothing published for a refused row
    assert await lp.handle("problems", problem_row(2, "1001", "x", platform="no such/platform!"), 2) == "duplicate"


async def test_cases_before_their_problem_become_its_test_set_and_orphans_are_quarantined(
    lp: LegacyProblems,
) -> None:
    created = "2024-03-01T10:00:00Z"
    assert await lp.handle("test_cases", case_row(11, 501, "1 2", created), 1) == "imported"
    assert await lp.handle("test_cases", case_row(12, 501, "3 4" * 100, created), 2) == "imported"  # to S3
    assert await lp.handle("test_cases", case_row(13, 777, "5 6", created), 3) == "imported"  # problem never comes
    assert await lp.flusher.flush_once() == 0  # no problem yet: staged, 777's cases quarantined as orphans
    reasons = await quarantined(lp.importer)
    assert "broken reference" in reasons["test_cases/13"] and "problem 777" in reasons["test_cases/13"]

    assert await lp.handle("problems", problem_row(501, "91000", "A+B"), 4) == "imported"
    assert await lp.flusher.flush_once() == 1
    problem = await lp.repo.get("baekjoon", "91000", consistent=True)
    assert problem is not None and problem.test_set_version >= 1
    assert lp.store.payloads("problems.TestSetReplaced")
    states = await lp.importer.store.get_states("test_cases", ["11", "12"])
    assert {s.status for s in states.values()} == {"imported"}
    columns = await lp.handler.columns("test_cases", list(states.values()))
    assert columns["12"]["input"] == "3 4" * 100  # the big case comes back from S3

    # A deleted case leaves the staging; the flush rebuilds the set from what is left.
    assert await lp.handle("test_cases", case_row(12, 501, "3 4" * 100, created), 5, "d") == "deleted"
    assert await lp.flusher.flush_once() == 1
    assert [c["id"] for c in await lp.handler.staged_cases(501)] == [11]


async def test_a_case_deleted_while_its_set_is_built_stays_deleted(lp: LegacyProblems) -> None:
    """The flusher reads what is staged, then takes the cases it built out of the broken-reference
    quarantine: a case deleted in between was moved back to imported (CI caught its counters off)."""
    created = "2024-03-01T10:00:00Z"
    assert await lp.handle("test_cases", case_row(11, 501, "1 2", created), 1) == "imported"
    assert await lp.handle("test_cases", case_row(12, 501, "3 4", created), 2) == "imported"
    assert await lp.flusher.flush_once() == 0  # no problem yet: both quarantined as orphans
    assert await lp.handle("problems", problem_row(501, "91000", "A+B"), 3) == "imported"

    staged_cases = lp.handler.staged_cases

    async def deleted_after_the_read(legacy_problem_id: int | str) -> list[dict[str, Any]]:
        staged = await staged_cases(legacy_problem_id)
        assert await lp.handle("test_cases", case_row(12, 501, "3 4", created), 4, "d") == "deleted"
        return staged

    lp.handler.staged_cases = deleted_after_the_read  # type: ignore[method-assign]
    marker = next(m for m in await lp.flusher.markers() if m["legacy_problem_id"] == "501")
    await lp.flusher.flush(marker)
    lp.handler.staged_cases = staged_cases  # type: ignore[method-assign]

    states = await lp.importer.store.get_states("test_cases", ["11", "12"])
    assert {k: s.status for k, s in states.items()} == {"11": "imported", "12": "deleted"}
    status = {t.table: t for t in (await lp.importer.status()).tables}["test_cases"]
    assert (status.imported, status.deleted, status.quarantined) == (1, 1, 0)
    # The delete marked the problem again: the next pass builds the set without the deleted case.
    assert await lp.flusher.flush_once() == 1
    assert [c["id"] for c in await lp.handler.staged_cases(501)] == [11]
    problem = await lp.repo.get("baekjoon", "91000", consistent=True)
    assert problem is not None and problem.test_case_count == 1


async def test_only_a_broken_reference_quarantine_is_lifted_when_the_problem_comes(lp: LegacyProblems) -> None:
    created = "2024-03-01T10:00:00Z"
    assert await lp.handle("test_cases", case_row(11, 501, "1 2", created), 1) == "imported"
    assert await lp.handle("test_cases", case_row(12, 501, "3 4", created), 2) == "imported"
    assert await lp.flusher.flush_once() == 0  # no problem yet: both quarantined as orphans
    # A later update of case 12 is not a valid row: quarantined for that, its older version staged.
    invalid = {k: v for k, v in case_row(12, 501, "3 4", created).items() if k != "output"}
    assert await lp.handle("test_cases", invalid, 3, "u") == "quarantined"
    assert await lp.handle("problems", problem_row(501, "91000", "A+B"), 4) == "imported"
    assert await lp.flusher.flush_once() == 1

    states = await lp.importer.store.get_states("test_cases", ["11", "12"])
    assert {k: s.status for k, s in states.items()} == {"11": "imported", "12": "quarantined"}
    reasons = await quarantined(lp.importer)
    assert "test_cases/11" not in reasons and "invalid row" in reasons["test_cases/12"]
    status = {t.table: t for t in (await lp.importer.status()).tables}["test_cases"]
    assert (status.imported, status.quarantined) == (1, 1)


async def test_jobs_become_historical_generation_jobs(lp: LegacyProblems) -> None:
    job = {
        "id": 9,
        "platform": "Baekjoon",
        "problem_id": "1000",
        "title": "A+B",
        "problem_url": None,
        "tags": "[]",
        "solution_code": None,
        "language": "python",
        "constraints": "",
        "job_type": "script_generation",
        "status": "COMPLETED",
        "celery_task_id": None,
        "generator_code": "print(1)",
        "error_message": None,
        "created_at": "2024-03-01T10:00:00Z",
        "updated_at": "2024-03-01T10:00:00Z",
    }
    assert await lp.handle("script_generation_jobs", job, 1) == "imported"
    job_id = legacy_ulid("script_generation_jobs", 9, 1709287200000)
    stored = await lp.jobs.get(job_id)
    assert stored is not None and stored.status == "succeeded"
    # The job keeps the legacy columns verify compares, and gives back the same canonical row.
    item = from_item(lp.store.client.get_item(TableName=lp.jobs.table, Key={"job_id": {"S": job_id}})["Item"])
    legacy_side = ScriptGenerationJobRow.model_validate(job).columns()
    assert set(item["legacy"]) == set(COMPARED[("script_generation_jobs", "problems")])
    assert canonical_row("script_generation_jobs", "problems", rules.job_columns(item["legacy"])) == canonical_row(
        "script_generation_jobs", "problems", legacy_side
    )
    assert await lp.handle("script_generation_jobs", job, 1) == "duplicate"
    assert await lp.handle("script_generation_jobs", {**job, "status": "LOST"}, 2, "u") == "quarantined"
    assert "not a legacy job status" in (await quarantined(lp.importer))["script_generation_jobs/9"]
    assert await lp.handle("script_generation_jobs", job, 3, "d") == "deleted"
    assert await lp.jobs.get(job_id) is None
