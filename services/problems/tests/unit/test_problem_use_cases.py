"""Problems' use cases on the in-memory unit of work (no moto server, no Kafka, no gateway):
the problem lifecycle (create, edit, complete, soft and hard delete with the purge, listings),
test sets (replace, append, idempotent replays, paging), garbage collection of abandoned uploads,
and generation jobs' use cases (create, list, cancel, retry). The repositories are the service's
own, on an in-process DynamoDB and S3."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo

from algoitny_problems.adapters.buckets import TEST_CASE_PAYLOADS
from algoitny_problems.adapters.control import ControlRepository
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.adapters.test_cases import TestCaseStore
from algoitny_problems.domain.models import NewProblem, ProblemPatch, TestCaseIn, TestSetIn
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.domain.jobs import GenerationRequest
from algoitny_problems.generation.service_layer.jobs import GenerationService, GenerationSettings
from algoitny_problems.service_layer.maintenance import GarbageCollector
from algoitny_problems.service_layer.test_sets import TestSetService
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity

ADMIN = Identity(user_id="admin-1", role="admin")


class NoAuthor:
    enabled = False


class Problems:
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
        self.gc = GarbageCollector(self.repo, self.cases, self.control, self.jobs)
        self.service = ProblemService(self.repo, store.uow, cursors, control=self.control, purge=self.gc.purge_now)  # type: ignore[arg-type]
        self.test_sets = TestSetService(
            self.repo,
            self.cases,
            self.control,
            store.uow,
            cursors,
            gc_grace_s=0,
            stale_upload_s=60,  # type: ignore[arg-type]
        )
        self.generation = GenerationService(
            self.jobs,
            self.repo,
            store.uow,
            cursors,
            NoAuthor(),
            self.test_sets,
            GenerationSettings(max_cases=100),  # type: ignore[arg-type]
        )

    async def create(self, problem_id: str = "1520A", **extra: Any) -> Any:
        cmd = NewProblem(platform="codeforces", problem_id=problem_id, title=f"Problem {problem_id}", **extra)
        return await self.service.create(cmd, "admin-1", quota=("admin-1", -1))


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("problems", buckets=True) as found:
        yield found


@pytest.fixture
def pb(store: Store) -> Problems:
    return Problems(store)


def _cases(n: int, prefix: str = "in", big: bool = False) -> list[TestCaseIn]:
    pad = "x" * 100 if big else ""
    return [TestCaseIn(input=f"{prefix}{i}{pad}", output=f"out{i}", is_sample=i == 0) for i in range(n)]


async def test_problem_lifecycle_and_listings(pb: Problems) -> None:
    created = await pb.create(test_cases=_cases(2))
    assert created.version == 1 and created.status == "draft"
    assert [e.split(".")[1] for e in pb.store.types()] == ["ProblemCreated"]
    with pytest.raises(AppError) as dup:
        await pb.create()
    assert dup.value.code is ErrorCode.ALREADY_EXISTS
    edited = await pb.service.update("codeforces", "1520A", ProblemPatch(title="Renamed"), expected_version=1)
    assert edited.title == "Renamed" and edited.version == 2
    with pytest.raises(AppError) as stale:
        await pb.service.update("codeforces", "1520A", ProblemPatch(title="Again"), expected_version=1)
    assert stale.value.code is ErrorCode.CONFLICT
    with pytest.raises(AppError) as hidden:
        await pb.service.get("codeforces", "1520A", can_manage=False)  # a draft: only for managers
    assert hidden.value.code is ErrorCode.NOT_FOUND
    done = await pb.service.complete("codeforces", "1520A")
    assert done.status == "completed"
    assert (await pb.service.get("codeforces", "1520A", can_manage=False)).title == "Renamed"
    assert (await pb.service.load_by_id(created.id, can_manage=False)).problem_id == "1520A"
    await pb.create("1520B")
    listed = await pb.service.list_problems(
        status="completed", platform=None, language=None, limit=10, cursor=None, can_manage=False
    )
    assert [p.problem_id for p in listed.items] == ["1520A"]
    with pytest.raises(AppError) as drafts:
        await pb.service.list_problems(
            status="draft", platform=None, language=None, limit=10, cursor=None, can_manage=False
        )
    assert drafts.value.code is ErrorCode.FORBIDDEN
    stats = await pb.service.stats()
    assert (stats.draft, stats.completed, stats.deleted) == (1, 1, 0)
    assert await pb.service.platforms() == ["codeforces"]
    gone = await pb.service.soft_delete("codeforces", "1520B", "duplicate")
    assert gone.status == "deleted" and (await pb.service.stats()).deleted == 1
    types = [e.split(".")[1] for e in pb.store.types()]
    assert types == ["ProblemCreated", "ProblemUpdated", "ProblemCompleted", "ProblemCreated", "ProblemDeleted"]


async def test_a_create_retried_under_its_idempotency_key_gets_the_first_answer(pb: Problems) -> None:
    cmd = NewProblem(platform="codeforces", problem_id="1520A", title="Once", test_cases=_cases(2))
    first = await pb.service.create_once(cmd, "admin-1", "create-key-1")
    assert not first.replayed and first.view.version == 1
    # The answer was lost (a gateway died): the same request again is answered, not refused.
    again = await pb.service.create_once(cmd, "admin-1", "create-key-1")
    assert again.replayed and again.view == first.view
    assert [e.split(".")[1] for e in pb.store.types()] == ["ProblemCreated"]  # created once
    # The key with another body, or from another caller, is another request: refused.
    for other, actor in ((cmd.model_copy(update={"title": "Changed"}), "admin-1"), (cmd, "admin-2")):
        with pytest.raises(AppError) as refused:
            await pb.service.create_once(other, actor, "create-key-1")
        assert refused.value.code is ErrorCode.VALIDATION_FAILED
    # Another key (or none) for a problem that exists is still 409 already-exists.
    for key in ("create-key-2", None):
        with pytest.raises(AppError) as dup:
            await pb.service.create_once(cmd, "admin-1", key)
        assert dup.value.code is ErrorCode.ALREADY_EXISTS
    assert [e.split(".")[1] for e in pb.store.types()] == ["ProblemCreated"]


async def test_hard_delete_purges_and_the_key_starts_above_its_tombstone(pb: Problems) -> None:
    await pb.create(test_cases=_cases(3, big=True))
    await pb.service.update("codeforces", "1520A", ProblemPatch(title="v2"))
    assert await pb.service.hard_delete("codeforces", "1520A") == 3  # every case and payload purged
    assert not await pb.service.exists("codeforces", "1520A")
    assert pb.store.s3.list_objects_v2(Bucket=TEST_CASE_PAYLOADS.physical(pb.store.namespace))["KeyCount"] == 0
    again = await pb.create()
    assert again.version == 4  # above the tombstone's 3
    with pytest.raises(AppError) as missing:
        await pb.service.hard_delete("codeforces", "9999Z")
    assert missing.value.code is ErrorCode.NOT_FOUND


async def test_test_sets_replace_append_replay_and_page(pb: Problems) -> None:
    await pb.create()
    body = TestSetIn(test_cases=_cases(5, big=True))
    first = await pb.test_sets.write("codeforces", "1520A", body, "replace", idempotency_key="k1")
    assert first.test_case_count == 5 and not first.replayed
    replay = await pb.test_sets.write("codeforces", "1520A", body, "replace", idempotency_key="k1")
    assert replay.replayed and replay.test_set_version == first.test_set_version
    with pytest.raises(AppError) as other:
        await pb.test_sets.write(
            "codeforces", "1520A", TestSetIn(test_cases=_cases(1)), "replace", idempotency_key="k1"
        )
    assert other.value.code is ErrorCode.CONFLICT
    appended = await pb.test_sets.write("codeforces", "1520A", TestSetIn(test_cases=_cases(2, "more")), "append")
    assert appended.test_case_count == 7
    problem, _ = await pb.service.load_for("codeforces", "1520A", ADMIN)
    full = await pb.test_sets.with_test_cases(problem, True)
    assert [c.input[:5] for c in full.test_cases][-2:] == ["more0", "more1"]
    seen, cursor = [], None
    while True:
        page = await pb.test_sets.page(problem, limit=3, cursor=cursor)
        seen += [c.ordinal for c in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == list(range(1, 8))
    picked = await pb.test_sets.page(problem, limit=3, cursor=None, ordinals=[2, 6])
    assert [c.ordinal for c in picked.items] == [2, 6]
    # The replaced version's cases are garbage once its grace has passed.
    report = await pb.gc.run_once(datetime.now(UTC) + timedelta(seconds=1))
    assert report.versions_removed >= 1 and report.skipped == 0
    assert len((await pb.test_sets.with_test_cases(problem, True)).test_cases) == 7


async def test_abandoned_staged_upload_is_collected_and_the_current_set_never(pb: Problems) -> None:
    await pb.create()
    await pb.test_sets.write("codeforces", "1520A", TestSetIn(test_cases=_cases(2)), "replace")
    problem, version = await pb.test_sets.open_staged("codeforces", "1520A", stale_after_s=0)
    await pb.test_sets.stage(problem, version, 1, _cases(4, big=True))
    report = await pb.gc.run_once(datetime.now(UTC) + timedelta(seconds=120))
    assert report.versions_removed == 1 and report.items_deleted == 4
    current, _ = await pb.service.load_for("codeforces", "1520A", ADMIN)
    assert len((await pb.test_sets.with_test_cases(current, True)).test_cases) == 2


async def test_generation_jobs_create_list_cancel_retry(pb: Problems) -> None:
    await pb.create()
    program = {"language": "python3", "code": "print(1)"}
    request = GenerationRequest.model_validate({"generator": program, "counts": {"small": 3}})
    with pytest.raises(AppError) as no_solution:
        await pb.generation.create("codeforces", "1520A", request, ADMIN)
    assert no_solution.value.extra["reason"] == "no_reference_solution"
    llm = GenerationRequest.model_validate({"llm_generator": True, "counts": {"small": 3}})
    with pytest.raises(AppError) as no_llm:
        await pb.generation.create("codeforces", "1520A", llm, ADMIN)
    assert no_llm.value.extra["reason"] == "llm_unavailable"
    over = GenerationRequest.model_validate({"generator": program, "counts": {"small": 101}})
    with pytest.raises(AppError) as capped:
        await pb.generation.create("codeforces", "1520A", over, ADMIN)
    assert capped.value.extra["reason"] == "over_cap"
    with pytest.raises(AppError) as missing:
        await pb.generation.create("codeforces", "404", request, ADMIN)
    assert missing.value.code is ErrorCode.NOT_FOUND

    await pb.service.update("codeforces", "1520A", ProblemPatch(language="python3", reference_solution="print(1)"))
    job = await pb.generation.create("codeforces", "1520A", request, ADMIN)
    other = await pb.generation.create("codeforces", "1520A", request, ADMIN)
    assert job.status == "pending" and job.total == 3
    everything = await pb.generation.list_jobs(status=None, platform=None, problem_id=None, cursor=None, limit=1)
    assert [j.job_id for j in everything.items] == [other.job_id] and everything.next_cursor
    rest = await pb.generation.list_jobs(
        status=None, platform=None, problem_id=None, cursor=everything.next_cursor, limit=1
    )
    assert [j.job_id for j in rest.items] == [job.job_id]
    by_problem = await pb.generation.list_jobs(
        status="pending", platform="codeforces", problem_id="1520A", cursor=None, limit=10
    )
    assert {j.job_id for j in by_problem.items} == {job.job_id, other.job_id}
    with pytest.raises(AppError):
        await pb.generation.list_jobs(status=None, platform=None, problem_id="1520A", cursor=None, limit=10)

    cancelled = await pb.generation.cancel(job.job_id, ADMIN)
    assert cancelled.status == "cancelled"
    followed = [(name, data.get("status")) async for name, data in pb.generation.follow(job.job_id)]
    assert followed == [("status", "cancelled"), ("cancelled", "cancelled")]  # a stream that ends
    waiting = [name async for name, _ in pb.generation.follow(other.job_id, max_s=0)]
    assert waiting == ["status", "timeout"]
    with pytest.raises(AppError) as ended:
        await pb.generation.cancel(job.job_id, ADMIN)
    assert ended.value.code is ErrorCode.CONFLICT
    with pytest.raises(AppError) as running:
        await pb.generation.retry(other.job_id)  # pending: nothing to retry
    assert running.value.code is ErrorCode.CONFLICT
    retried = await pb.generation.retry(job.job_id)
    assert retried.status == "pending" and (await pb.generation.get(job.job_id)).status == "pending"
    types = [e.split(".")[1] for e in pb.store.types() if ".GenerationJob" in e]
    assert types == ["GenerationJobCreated"] * 2 + ["GenerationJobCancelled", "GenerationJobProgressed"]
    with pytest.raises(AppError) as unknown:
        await pb.generation.get("01JABCDEFGHJKMNPQRSTVWXYZ0")
    assert unknown.value.code is ErrorCode.NOT_FOUND


async def test_loading_by_numeric_id_or_key_shows_drafts_only_to_who_manages_them(pb: Problems) -> None:
    created = await pb.create("1700C")
    visitor = Identity(user_id="someone", role="user")
    problem, manage = await pb.service.load_by_id_for(created.id, ADMIN)
    assert problem.problem_id == "1700C" and manage is True
    with pytest.raises(AppError) as hidden:
        await pb.service.load_by_id_for(created.id, visitor)  # a draft: not for a visitor
    assert hidden.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(AppError) as hidden_key:
        await pb.service.load_visible("codeforces", "1700C", can_manage=False)
    assert hidden_key.value.code is ErrorCode.NOT_FOUND
    await pb.service.complete("codeforces", "1700C")
    problem, manage = await pb.service.load_by_id_for(created.id, visitor)
    assert problem.status == "completed" and manage is False
    assert (await pb.service.load_visible("codeforces", "1700C", can_manage=False)).id == created.id
    with pytest.raises(AppError) as missing:
        await pb.service.load_by_id_for(created.id + 1000, ADMIN)
    assert missing.value.code is ErrorCode.NOT_FOUND
