"""The demo data `make run` loads is what the problems API accepts, and shows something to read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoitny_problems.domain.models import NewProblem

DEMO = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "demo" / "problems.json").read_text())


@pytest.mark.parametrize("raw", DEMO, ids=[f"{p['platform']}/{p['problem_id']}" for p in DEMO])
def test_every_demo_problem_is_a_valid_create_with_constraints_and_a_sample(raw: dict[str, object]) -> None:
    problem = NewProblem.model_validate(raw)
    assert problem.constraints, "the problem page would show an empty statement"
    assert any(case.is_sample for case in problem.test_cases or [])
