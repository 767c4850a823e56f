"""DMOJ judge-server's own testsuite cases (helloworld, aplusb) for every language offered here,
judged by this judge with their limits: the verdicts agree with DMOJ's except where a documented
DMOJ-only policy differs (tests/data/dmoj_testsuite/README.md, ``policy`` in cases.json)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.judge_env import judge_all, judge_env

from algoitny_executions.domain.judging import JudgeOptions, JudgeReport, Limits, Submission, TestCase, TestSet

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "dmoj_testsuite"
SPEC: dict[str, Any] = json.loads((DATA / "cases.json").read_text())
CASES: list[dict[str, Any]] = SPEC["cases"]


def _tests(suite: str) -> TestSet:
    cases = tuple(
        TestCase(
            input=(DATA / "data" / inp).read_bytes() if inp else b"",
            output=(DATA / "data" / out).read_bytes(),
        )
        for inp, out in SPEC["tests"][suite]
    )
    return TestSet(problem_key=f"dmoj/{suite}", version=1, cases=cases)


def limits_of(case: dict[str, Any]) -> Limits:
    return Limits(
        time_limit_ms=min(15_000, max(100, int(case["time_s"] * 1000))),
        memory_limit_mb=max(16, math.ceil(case["memory_kb"] / 1024)),
        output_limit_kb=1024,
    )


@pytest.fixture(scope="module")
def reports() -> Iterator[dict[str, JudgeReport]]:
    # Compiles capped at 8 s of CPU: room for javac on a loaded machine, while DMOJ's compile-TLE
    # case (a macro bomb) burns no more than that before its CE.
    for judge in judge_env(slots=2, compile_time_limit_ms=8000):
        jobs = {
            case["case"]: (
                Submission(language=case["language"], code=(DATA / case["source"]).read_text()),
                _tests(case["case"].split("/")[0]),
                limits_of(case),
                JudgeOptions(),
            )
            for case in CASES
        }
        yield judge_all(judge, jobs)


def test_the_copied_cases_cover_every_offered_language_the_suites_have(reports: dict[str, JudgeReport]) -> None:
    assert {c["language"] for c in CASES} == {"c", "cpp17", "python3", "pypy3", "java17", "go"}
    java = [c for c in CASES if c["language"] == "java17" and c["expect"] == ["AC"] and "policy" not in c]
    assert len(java) >= 6  # public classes named other than Main (aplusb, final_class, нет, ...)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_verdict_agrees_with_dmoj(reports: dict[str, JudgeReport], case: dict[str, Any]) -> None:
    if "policy" not in case:  # no documented difference: the expectation is DMOJ's own
        assert case["expect"] == [{"IR": "RE", "RTE": "RE"}.get(v, v) for v in case["dmoj_expect"]]
    report = reports[case["case"]]
    assert report.verdict.value in case["expect"], (case, report.to_dict())
