"""Who manages what, the plan cap, hidden test cases, versions across incarnations and the
bounds of a generation batch (issue 23, items 13, 15, 16, 18)."""

from __future__ import annotations

import pytest

from algoitny_problems.domain.access import UNLIMITED, check_problem_cap, manages, owner_filter
from algoitny_problems.domain.models import NewProblem, Problem, samples_page
from algoitny_problems.generation.domain.jobs import batch_size_for, solution_output_kb
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity

ADMIN = Identity(user_id="root", role="admin")
REGISTRAR = Identity(user_id="reg-1", role="user", may_register=True)
OTHER_REGISTRAR = Identity(user_id="reg-2", role="user", may_register=True)
USER = Identity(user_id="reg-1", role="user", may_register=False)  # same id, plan no longer registers


def test_admins_manage_everything_registrars_only_what_they_created() -> None:
    assert manages(ADMIN, "reg-1") and manages(ADMIN, None)
    assert manages(REGISTRAR, "reg-1")
    assert not manages(REGISTRAR, "root") and not manages(REGISTRAR, None)
    assert not manages(OTHER_REGISTRAR, "reg-1")
    assert not manages(USER, "reg-1")  # a plan that no longer registers manages nothing
    assert not manages(Identity(), None)
    assert owner_filter(ADMIN) is None and owner_filter(REGISTRAR) == "reg-1"


def test_the_plan_cap() -> None:
    check_problem_cap(UNLIMITED, 10_000)
    check_problem_cap(2, 1)
    for cap, created in ((2, 2), (0, 0)):
        with pytest.raises(AppError) as err:
            check_problem_cap(cap, created)
        assert err.value.code is ErrorCode.FORBIDDEN and err.value.extra["reason"] == "max_problems"


def _problem(**extra: object) -> Problem:
    cmd = NewProblem.model_validate(
        {
            "platform": "cf",
            "problem_id": "1A",
            "title": "A+B",
            "test_cases": [
                {"input": "1 2\n", "output": "3\n", "is_sample": True},
                {"input": "2000000000 2000000000\n", "output": "4000000000\n"},
            ],
        }
    )
    return Problem.register(cmd, "reg-1", numeric_id=1, incarnation="i1", **extra)  # type: ignore[arg-type]


def test_readers_get_the_samples_and_never_a_hidden_case() -> None:
    page = samples_page(_problem())
    assert [(c.ordinal, c.output, c.is_sample) for c in page.items] == [(1, "3\n", True)]
    assert page.test_case_count == 2 and "4000000000" not in page.model_dump_json()


def test_a_new_incarnation_starts_above_the_last_version_of_the_key() -> None:
    assert _problem().version == 1
    again = _problem(after_version=6, quota_owner="reg-1")
    assert again.version == 7 and again.quota_owner == "reg-1"


def test_a_batch_fits_its_memory_budget_at_worst() -> None:
    assert solution_output_kb(4096) == 8192
    assert batch_size_for(50, 4096, 128) == 10  # 10 x (4 MB input + 8 MB output) <= 128 MB
    assert batch_size_for(50, 64, 128) == 50  # small inputs keep the configured batch
    assert batch_size_for(200, 1024, 128) == 42
    assert batch_size_for(50, 65_536, 8) == 1  # never below one case
    for configured, cap, budget in ((50, 4096, 128), (200, 1024, 64), (500, 16, 8)):
        n = batch_size_for(configured, cap, budget)
        assert n == 1 or n * (cap + solution_output_kb(cap)) <= budget * 1024
