"""Mapping of legacy search_history.hints to stored execution hints (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from algoitny_hints.domain.models import HintsView
from algoitny_hints.service_layer.legacy_import import legacy_hint_view
from algoitny_shared.legacy.identity import legacy_execution_id
from algoitny_shared.legacy.row_importer import Quarantined
from algoitny_shared.legacy.rows import SearchHistoryRow


def _row(hints: Any) -> SearchHistoryRow:
    return SearchHistoryRow.model_validate(
        {
            "id": 5,
            "user_id": 3,
            "user_identifier": "a@b.c",
            "problem_id": 1,
            "platform": "boj",
            "problem_number": "1000",
            "problem_title": "A+B",
            "language": "python",
            "code": "x",
            "result_summary": '"Failed"',
            "passed_count": 0,
            "failed_count": 1,
            "total_count": 1,
            "is_code_public": False,
            "hints": json.dumps(hints) if hints is not None else None,
            "metadata": "{}",
            "created_at": "2024-05-05T12:00:00Z",
        }
    )


def test_hints_become_the_executions_ready_hints_in_order() -> None:
    row = _row(["one", "two", "three", "four", "five", "six"])
    view = legacy_hint_view(row)
    assert view is not None
    parsed = HintsView.model_validate(view)
    assert parsed.status == "ready" and parsed.kind == "execution"
    assert parsed.execution_id == legacy_execution_id(5, int(row.created_at.timestamp() * 1000))
    assert [h.text for h in parsed.hints] == ["one", "two", "three", "four", "five", "six"]
    assert [h.level for h in parsed.hints] == [1, 2, 3, 4, 5, 5]


@pytest.mark.parametrize("hints", [None, []])
def test_no_hints_store_nothing(hints: Any) -> None:
    assert legacy_hint_view(_row(hints)) is None


def test_hints_that_are_not_a_list_are_quarantined() -> None:
    with pytest.raises(Quarantined, match="not a JSON list"):
        legacy_hint_view(_row({"a": 1}))
