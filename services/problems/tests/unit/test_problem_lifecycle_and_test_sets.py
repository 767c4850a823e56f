from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from algoitny_problems.adapters.test_cases import TestCaseStore
from algoitny_problems.domain.models import (
    NewProblem,
    Problem,
    ProblemPatch,
    TestCaseIn,
    TestSetIn,
    samples_of,
)
from algoitny_shared.batch_write import MAX_BATCH_WRITE
from algoitny_shared.errors import AppError, ErrorCode


def _problem(**extra: Any) -> Problem:
    cmd = NewProblem(platform="codeforces", problem_id="1520A", title="Do Not Be Distracted!")
    return Problem.register(cmd, "admin", numeric_id=1, incarnation="i1").model_copy(update=extra)


def test_reserved_platforms_and_big_inline_cases_are_refused() -> None:
    with pytest.raises(ValidationError):
        NewProblem(platform="id", problem_id="1", title="x")
    with pytest.raises(ValidationError):
        NewProblem(platform="cf", problem_id="1", title="x", test_cases=[{"input": "x" * 70_000, "output": ""}])


def test_patch_needs_a_field_and_refuses_nulls_for_required_ones() -> None:
    with pytest.raises(ValidationError):
        ProblemPatch()
    with pytest.raises(ValidationError):
        ProblemPatch(title=None)
    assert ProblemPatch(url=None, tags=["DP"]).changes() == {"url": None, "tags": ["dp"]}


def test_lifecycle_moves_forward_and_bumps_the_version() -> None:
    draft = _problem()
    done = draft.completed()
    assert done.status == "completed" and done.version == 2
    with pytest.raises(AppError) as err:
        done.completed()
    assert err.value.code is ErrorCode.CONFLICT
    gone = done.soft_deleted("dup")
    assert gone.status == "deleted" and gone.deleted_at and gone.version == 3
    for write in (lambda: gone.edited({"title": "x"}), gone.completed, lambda: gone.soft_deleted(None)):
        with pytest.raises(AppError) as err:
            write()
        assert err.value.code is ErrorCode.CONFLICT
    assert not gone.visible_to(can_manage=False) and gone.visible_to(can_manage=True)


def test_test_set_fingerprint_and_samples() -> None:
    a = TestSetIn(test_cases=[TestCaseIn(input="1", output="2", is_sample=True)])
    b = TestSetIn(test_cases=[TestCaseIn(input="1", output="3", is_sample=True)])
    assert a.fingerprint("replace") != b.fingerprint("replace") != a.fingerprint("append")
    assert a.fingerprint("replace") == a.model_copy().fingerprint("replace")
    big = TestCaseIn(input="x" * 10_000, output="", is_sample=True)
    assert samples_of([big, *a.test_cases]) == samples_of(a.test_cases)  # big samples stay off the item
    with pytest.raises(ValidationError):
        TestSetIn(test_cases=[])


class FakeDynamo:
    """Answers BatchWriteItem, leaving some items unprocessed the first time."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        [(table, requests)] = RequestItems.items()
        self.calls.append(len(requests))
        if len(self.calls) == 1 and len(requests) > 3:
            return {"UnprocessedItems": {table: requests[:3]}}
        return {}


def test_batch_writes_are_at_most_25_and_unprocessed_items_are_retried() -> None:
    db = FakeDynamo()
    store = TestCaseStore(db, None, "t", "b", inline_max_bytes=1024)
    keys = [{"problem_key": "p", "case_key": f"{i:06d}"} for i in range(60)]
    assert asyncio.run(store.batch_delete(keys)) == 60
    assert max(db.calls) <= MAX_BATCH_WRITE and sum(db.calls) == 63  # 3 retried
    with pytest.raises(ValueError):
        asyncio.run(store.batch_put([{"problem_key": "p", "case_key": str(i)} for i in range(26)]))
