"""Generation jobs without I/O: reproducible seeds, size classes, duplicate detection, the request's
rules, state transitions, and parsing of Gemini-written programs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from algoitny_problems.domain.models import NewProblem, Problem, SampleCase
from algoitny_problems.generation.adapters.authoring import generator_prompt, parse_program, solution_prompt
from algoitny_problems.generation.domain.jobs import (
    JOB_ID_PATTERN,
    GenerationJob,
    GenerationRequest,
    JobView,
    case_seed,
    generator_stdin,
    input_digest,
    new_job_id,
    size_class_of,
)
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.llm import MalformedAnswer

GEN = {"language": "python3", "code": "print(1)"}
COUNTS = {"small": 2, "medium": 1, "large": 0, "max": 3}


def _job(**extra: Any) -> GenerationJob:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    base: dict[str, Any] = {
        "job_id": new_job_id(),
        "platform": "cf",
        "problem_id": "1",
        "incarnation": "i1",
        "generator_source": "registrar",
        "counts": COUNTS,
        "total": 6,
        "seed": 42,
        "created_at": now,
        "updated_at": now,
    }
    return GenerationJob(**{**base, **extra})


def test_case_seeds_are_reproducible_and_distinct() -> None:
    assert case_seed(42, 3, 0) == case_seed(42, 3, 0)
    seeds = {case_seed(42, i, r) for i in range(200) for r in range(3)}
    assert len(seeds) == 600 and all(0 <= s < 2**63 for s in seeds)
    assert case_seed(42, 0, 0) != case_seed(43, 0, 0)
    assert re.fullmatch(rb"\d+ small\n", generator_stdin(42, COUNTS, 0, 0))


def test_size_classes_come_in_order_and_end() -> None:
    assert [size_class_of(COUNTS, i) for i in range(6)] == ["small", "small", "medium", "max", "max", "max"]
    with pytest.raises(IndexError):
        size_class_of(COUNTS, 6)


def test_duplicates_are_judged_on_tokens() -> None:
    assert input_digest(b"1 2\n") == input_digest(b"1   2") == input_digest(b" 1\n2\n\n")
    assert input_digest(b"1 2") != input_digest(b"12")


def test_job_ids_are_ulids_sorted_by_time() -> None:
    a, b = new_job_id(1_000), new_job_id(2_000)
    assert re.fullmatch(JOB_ID_PATTERN, a) and a < b


def test_request_needs_exactly_one_generator_and_some_cases() -> None:
    ok = GenerationRequest(generator=GEN, counts={"small": 1})  # type: ignore[arg-type]
    assert ok.generator is not None and ok.generator.language == "python3" and ok.counts.total == 1
    legacy = GenerationRequest(generator={"language": "python", "code": "x"}, counts={"max": 1})  # type: ignore[arg-type]
    assert legacy.generator is not None and legacy.generator.language == "python3"  # old name, normalised
    for bad in (
        {"counts": {"small": 1}},
        {"generator": GEN, "llm_generator": True, "counts": {"small": 1}},
        {"generator": GEN, "counts": {}},
        {"generator": GEN, "counts": {"small": -1}},
        {"generator": GEN, "counts": {"tiny": 1}},
        {"generator": {"language": "cobol", "code": "x"}, "counts": {"small": 1}},
        {"generator": {"language": "c", "code": "   "}, "counts": {"small": 1}},
        {"generator": {"language": "c", "code": "x" * 70_000}, "counts": {"small": 1}},
        {"generator": GEN, "counts": {"small": 1}, "seed": 2**63},
        {"generator": GEN, "counts": {"small": 1}, "extra": 1},
    ):
        with pytest.raises(ValidationError):
            GenerationRequest.model_validate(bad)


def test_cancel_and_retry_rules() -> None:
    running = _job(status="running", done=3, digests="a" * 48, staged_version=4, attempts=2, lease_holder="w1")
    cancelled = running.cancelled()
    assert cancelled.status == "cancelled" and cancelled.version == running.version + 1
    assert cancelled.lease_holder is None and cancelled.finished_at is not None
    with pytest.raises(AppError) as err:
        cancelled.cancelled()
    assert err.value.code is ErrorCode.CONFLICT
    again = cancelled.retried()
    assert again.status == "pending" and again.done == 0 and again.digests == "" and again.staged_version is None
    assert again.attempts == 0 and again.life == running.life + 1 and again.seed == running.seed
    for status in ("pending", "running", "succeeded"):
        with pytest.raises(AppError):
            _job(status=status).retried()
    assert running.digest_list() == ["a" * 16] * 3


def test_job_view_links_and_summary() -> None:
    view = JobView.of(_job())
    assert view.links["events"] == f"/api/v1/generation-jobs/{view.job_id}/events"
    assert view.status == "pending" and view.total == 6


def test_gemini_programs_are_parsed_and_checked() -> None:
    assert parse_program('{"language": "cpp", "code": "int main(){}"}') == ("cpp17", "int main(){}")
    for bad in ("not json", '{"language": "cobol", "code": "x"}', '{"language": "c", "code": ""}', '{"code": "x"}'):
        with pytest.raises(MalformedAnswer):
            parse_program(bad)


def test_prompts_carry_the_problem() -> None:
    cmd = NewProblem(platform="cf", problem_id="1", title="Sum", constraints="1 <= n <= 10")
    problem = Problem.register(cmd, "u", numeric_id=1, incarnation="i").model_copy(
        update={"samples": [SampleCase(input="1 2\n", output="3\n")]}
    )
    for prompt in (generator_prompt(problem), solution_prompt(problem)):
        assert "Sum" in prompt and "1 <= n <= 10" in prompt and "1 2" in prompt and "python3" in prompt
