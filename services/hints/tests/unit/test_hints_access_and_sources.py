"""Who may request and read hints, refunds of failed requests, and the HTTP execution source
(against a fake executions service that checks the signed identity)."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from support.fake_executions import FakeExecutions, execution_doc, serve_executions

from algoitny_hints.adapters.gemini import GeminiHints
from algoitny_hints.adapters.repository import MemoryHintStore, problem_target
from algoitny_hints.adapters.sources import HttpExecutionSource, NotVisible, decode_code, parse_execution
from algoitny_hints.domain.models import ProblemContext
from algoitny_hints.service_layer.hints import Charge, HintService, charge_of
from algoitny_hints.settings import HintsSettings
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import HintRequested
from algoitny_shared.identity import Identity, IdentitySigner

SECRET = "unit-internal-secret-unit-internal-secret"
ALICE = Identity(user_id="alice", role="user", plan="free")
BOB = Identity(user_id="bob", role="user", plan="free")
ADMIN = Identity(user_id="root", role="admin", plan="admin")
CHARGE = Charge("req-charge-0001", "2026-01-02")


def doc(eid: str, user: str, verdict: str = "WA", **extra: Any) -> dict[str, Any]:
    if verdict == "RUNNING":
        return execution_doc(eid, user, None, status="running", **extra)
    tests = [{"index": 0, "verdict": verdict, "input": "1\n", "expected": "3\n", "output": "2\n"}]
    return execution_doc(eid, user, verdict, **{"tests": tests, **extra})


class Problems:
    """Known problems by key -> (numeric id, status); drafts are visible to admins only."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, str], tuple[int, str]] = {("cf", "1A"): (1, "completed")}

    async def get(self, platform: str, problem_id: str) -> tuple[ProblemContext, str | None]:
        if (platform, problem_id) not in self.known:
            raise NotVisible(problem_id)
        numeric_id, _ = self.known[(platform, problem_id)]
        ctx = ProblemContext(platform=platform, problem_id=problem_id, id=numeric_id, title="T", tags=["greedy"])
        return ctx, "SECRET_REF"

    async def visible(self, platform: str, problem_id: str, identity: Identity) -> ProblemContext:
        ctx, _ = await self.get(platform, problem_id)
        if self.known[(platform, problem_id)][1] != "completed" and not identity.is_admin:
            raise NotVisible(problem_id)
        return ctx


class Refunds:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    async def refund(self, user_id: str, request_id: str, day: str, reason: str) -> None:
        self.calls.append((user_id, request_id, day, reason))


@pytest.fixture
def executions() -> Iterator[FakeExecutions]:
    fake = FakeExecutions(SECRET)
    fake.add(doc("ex-alice", "alice"))
    fake.add(doc("ex-ok", "alice", "AC"))
    fake.add(doc("ex-running", "alice", "RUNNING"))
    fake.add(doc("ex-bob", "bob"))
    with serve_executions(fake):
        yield fake


@pytest.fixture
async def parts(executions: FakeExecutions) -> Any:
    settings = HintsSettings(internal_secret=SECRET, gemini_api_key="")
    source = HttpExecutionSource(executions.url, IdentitySigner(SECRET), 2.0)
    store, refunds = MemoryHintStore(), Refunds()
    svc = HintService(settings, store, source, Problems(), refunds, GeminiHints(settings))
    yield svc, store, refunds, executions
    await source.close()


async def test_owner_requests_and_reads_hints(parts: Any) -> None:
    svc, store, refunds, fake = parts
    out = await svc.request_execution_hints("ex-alice", ALICE, CHARGE)
    assert out["request_id"] == CHARGE.key and out["status"] == "pending"
    assert (await svc.execution_hints("ex-alice", ALICE)).status == "pending"
    req = HintRequested.model_validate(store.requests[CHARGE.key])
    assert req.charge_key == CHARGE.key and req.charge_day == CHARGE.day and req.user_id == "alice"
    assert await svc.generate(req) == "fallback"
    view = await svc.execution_hints("ex-alice", ALICE)
    assert view.status == "ready" and view.source == "fallback" and view.cause == "wa_value"
    assert refunds.calls == []
    # the fake executions service saw alice's own signed identity every time
    assert {u for _, u in fake.requests} == {"alice"}


async def test_nobody_requests_or_reads_hints_of_another_users_execution(parts: Any) -> None:
    svc, store, refunds, _ = parts
    await svc.request_execution_hints("ex-alice", ALICE, None)
    for call in (
        svc.request_execution_hints("ex-alice", BOB, CHARGE),
        svc.execution_hints("ex-alice", BOB),
        svc.request_execution_hints("ex-bob", ALICE, CHARGE),
        svc.execution_hints("ex-bob", ALICE),
        svc.execution_hints("ex-missing", ALICE),
    ):
        with pytest.raises(AppError) as err:
            await call
        assert err.value.code is ErrorCode.NOT_FOUND  # 403 and 404 look alike: nothing leaks
    with pytest.raises(AppError) as err:
        await svc.execution_hints("ex-alice", Identity())
    assert err.value.code is ErrorCode.UNAUTHENTICATED
    # rejected charged requests are given back
    assert [c[0] for c in refunds.calls] == ["bob", "alice"]
    assert len([e for e in store.events if e.event_type == "hints.HintRequested"]) == 1


async def test_accepted_or_unfinished_executions_get_no_hints_and_are_refunded(parts: Any) -> None:
    svc, _, refunds, _ = parts
    for eid in ("ex-ok", "ex-running"):
        with pytest.raises(AppError) as err:
            await svc.request_execution_hints(eid, ALICE, CHARGE)
        assert err.value.code is ErrorCode.CONFLICT
    assert len(refunds.calls) == 2 and refunds.calls[0][1:3] == (CHARGE.key, CHARGE.day)


async def test_same_charge_key_is_one_request(parts: Any) -> None:
    svc, store, _, _ = parts
    a = await svc.request_execution_hints("ex-alice", ALICE, CHARGE)
    b = await svc.request_execution_hints("ex-alice", ALICE, CHARGE)
    assert a["request_id"] == b["request_id"]
    assert len(store.events) == 1


async def test_a_request_whose_execution_vanished_is_refunded_once(parts: Any) -> None:
    svc, store, refunds, fake = parts
    await svc.request_execution_hints("ex-alice", ALICE, CHARGE)
    req = HintRequested.model_validate(store.requests[CHARGE.key])
    del fake.executions["ex-alice"]
    assert await svc.generate(req) == "failed"
    assert await svc.generate(req) == "duplicate"
    assert refunds.calls == [("alice", CHARGE.key, CHARGE.day, "hint context no longer available")]
    assert store.requests[CHARGE.key]["status"] == "failed"


async def test_problem_hints_admin_generates_users_read(parts: Any) -> None:
    svc, store, refunds, _ = parts
    with pytest.raises(AppError) as err:
        await svc.request_problem_hints("cf", "1A", ALICE)
    assert err.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(AppError) as err:
        await svc.request_problem_hints("cf", "404", ADMIN)
    assert err.value.code is ErrorCode.NOT_FOUND
    # nothing generated yet: the read's charge is given back
    with pytest.raises(AppError) as err:
        await svc.problem_hints("cf", "1A", ALICE, CHARGE)
    assert err.value.code is ErrorCode.NOT_FOUND and len(refunds.calls) == 1
    out = await svc.request_problem_hints("cf", "1A", ADMIN)
    assert await svc.generate(HintRequested.model_validate(store.requests[out["request_id"]])) == "fallback"
    view = await svc.problem_hints("cf", "1A", ALICE, CHARGE)
    assert view.status == "ready" and view.cause == "problem_overview" and len(view.hints) >= 3
    assert "SECRET_REF" not in str(store.latest_views[problem_target("cf", "1A")])
    assert len(refunds.calls) == 1


async def test_problem_hints_of_a_draft_are_neither_served_nor_charged(parts: Any) -> None:
    svc, store, refunds, _ = parts
    svc._problems.known[("cf", "2B")] = (2, "draft")
    out = await svc.request_problem_hints("cf", "2B", ADMIN)
    assert await svc.generate(HintRequested.model_validate(store.requests[out["request_id"]])) == "fallback"
    assert (await svc.problem_hints("cf", "2B", ADMIN, None)).status == "ready"
    with pytest.raises(AppError) as err:
        await svc.problem_hints("cf", "2B", ALICE, CHARGE)
    assert err.value.code is ErrorCode.NOT_FOUND
    assert [c[0] for c in refunds.calls] == ["alice"]  # the read's charge is given back


async def test_problem_hints_do_not_survive_into_a_new_problem_under_the_same_id(parts: Any) -> None:
    svc, store, refunds, _ = parts
    out = await svc.request_problem_hints("cf", "1A", ADMIN)
    assert await svc.generate(HintRequested.model_validate(store.requests[out["request_id"]])) == "fallback"
    assert (await svc.problem_hints("cf", "1A", ALICE, CHARGE)).status == "ready"
    svc._problems.known[("cf", "1A")] = (7, "completed")  # hard-deleted and created again: a new numeric id
    with pytest.raises(AppError) as err:
        await svc.problem_hints("cf", "1A", ALICE, CHARGE)
    assert err.value.code is ErrorCode.NOT_FOUND and len(refunds.calls) == 1


def test_charge_header() -> None:
    assert charge_of(None) is None
    assert charge_of("2026-01-02 problem-hint:cf:1A:2026-01-02") == Charge(
        key="problem-hint:cf:1A:2026-01-02", day="2026-01-02"
    )
    with pytest.raises(AppError):
        charge_of("bad header")


async def test_http_source_reads_the_published_execution_view(executions: FakeExecutions) -> None:
    tests = [
        {"index": 3, "verdict": "AC"},
        {"index": 4, "verdict": "RE", "input": "5", "expected": "1", "detail": "exit code 1: IndexError: x"},
    ]
    executions.add(execution_doc("ex-shape", "alice", "RE", tests=tests, detail="first failure on test 5"))
    source = HttpExecutionSource(executions.url, IdentitySigner(SECRET), 2.0)
    try:
        ctx = await source.get("ex-shape", ALICE)
        assert ctx.user_id == "alice" and ctx.verdict == "RE" and ctx.code.startswith("print(")
        failed = ctx.tests[1]
        assert failed.ordinal == 5 and failed.failed  # 0-based "index" 4 is ordinal 5
        assert (failed.input, failed.expected, failed.stderr) == ("5", "1", "exit code 1: IndexError: x")
        assert "first failure" in ctx.runtime_error
        with pytest.raises(NotVisible):
            await source.get("ex-shape", BOB)  # 403
        with pytest.raises(NotVisible):
            await source.get("nope", ALICE)  # 404
    finally:
        await source.close()


def test_a_guessed_shape_is_refused_not_half_read() -> None:
    with pytest.raises(ValueError):
        parse_execution({"id": "e", "owner_id": "u", "test_results": [{"expected_output": "1"}]})


def test_code_decoding_plain_base64_gzip() -> None:
    code = "#include <cstdio>\nint main() { return 0; }\n"
    assert decode_code(code) == code
    assert decode_code(base64.b64encode(code.encode()).decode()) == code
    assert decode_code(base64.b64encode(gzip.compress(code.encode())).decode()) == code
    assert decode_code(base64.b64encode(code.encode()).decode(), "base64") == code
    assert decode_code("abcdefgh") == "abcdefgh" or decode_code("abcdefgh")  # short words stay readable
    assert decode_code("print(1)") == "print(1)"


def test_parse_truncates_long_outputs() -> None:
    tests = [{"index": 0, "verdict": "WA", "input": "9" * 5000, "expected": "1", "output": "2"}]
    ctx = parse_execution(doc("e", "u", tests=tests), limit=100)
    assert len(ctx.tests[0].input) < 200 and ctx.tests[0].input.endswith("[truncated]")
