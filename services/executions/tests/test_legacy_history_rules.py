"""Mapping rules of the executions service's legacy importer (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from algoitny_executions.domain import legacy as rules
from algoitny_executions.domain.history import execution_time_ms, unpack
from algoitny_shared.legacy.canonical import canonical_row
from algoitny_shared.legacy.identity import legacy_user_id
from algoitny_shared.legacy.rows import SearchHistoryRow


def _row(**over: Any) -> SearchHistoryRow:
    row: dict[str, Any] = {
        "id": 42,
        "user_id": 7,
        "user_identifier": "kim@example.com",
        "problem_id": 11,
        "platform": "Baekjoon",
        "problem_number": "1000",
        "problem_title": "A+B",
        "language": "python",
        "code": "print(sum(map(int, input().split())))",
        "result_summary": json.dumps("Failed"),
        "passed_count": 1,
        "failed_count": 1,
        "total_count": 2,
        "is_code_public": True,
        "test_results": json.dumps(
            [
                {"test_case_id": 1, "output": "3", "passed": True, "error": None, "status": "passed"},
                {"test_case_id": 2, "output": "", "passed": False, "error": "Timed out after 5s", "status": "error"},
            ]
        ),
        "hints": json.dumps(["think", "harder"]),
        "metadata": "{}",
        "created_at": "2024-05-05T12:00:00.5Z",
    }
    row.update(over)
    return SearchHistoryRow.model_validate(row)


@pytest.mark.parametrize(
    ("summary", "failing", "expected"),
    [
        ("Passed", None, "AC"),
        ("Failed", {"passed": False, "error": None, "status": "failed", "output": "4"}, "WA"),
        ("Failed", {"passed": False, "error": "Timed out after 5 seconds", "status": "error"}, "TLE"),
        ("Failed", {"passed": False, "error": "MemoryError", "status": "error"}, "MLE"),
        ("Failed", {"passed": False, "error": "SyntaxError: invalid syntax", "status": "error"}, "CE"),
        ("Failed", {"passed": False, "error": "ZeroDivisionError", "status": "error"}, "RE"),
        ("Failed", {"passed": False, "error": "", "status": "error"}, "RE"),
        ("Failed", None, "WA"),
    ],
)
def test_legacy_pass_fail_becomes_a_verdict(summary: str, failing: dict[str, Any] | None, expected: str) -> None:
    results = [{"passed": True, "output": "3"}] + ([failing] if failing else [])
    assert rules.verdict(summary, 1 if summary == "Failed" else 0, len(results), results) == expected


def test_an_odd_summary_is_read_from_the_counts() -> None:
    assert rules.verdict({"x": 1}, 0, 3, None) == "AC"
    assert rules.verdict(None, 2, 3, None) == "WA"


def test_item_keeps_code_order_owner_visibility_and_the_legacy_columns() -> None:
    row = _row()
    item = rules.history_item(row)
    assert item["execution_id"] == rules.history_item(_row())["execution_id"]  # deterministic
    assert execution_time_ms(item["execution_id"]) == int(row.created_at.timestamp() * 1000)  # legacy time order
    assert item["user_id"] == legacy_user_id(7) and item["user_name"] is None  # the e-mail is never shown
    assert item["language"] == "python3" and item["platform"] == "baekjoon" and item["verdict"] == "TLE"
    assert item["public"] and item["public_shard"].startswith("PUB#") and item["hints"] == ["think", "harder"]
    assert [t["v"] for t in unpack(item["tests_z"])] == ["AC", "TLE"]
    rebuilt = rules.legacy_columns(item)
    assert canonical_row("search_history", "executions", rebuilt) == canonical_row(
        "search_history", "executions", row.columns()
    )


def test_anonymous_runs_belong_to_no_account() -> None:
    item = rules.history_item(_row(user_id=None, user_identifier="anonymous", is_code_public=False))
    assert item["user_id"] == rules.LEGACY_ANONYMOUS and not item["user_id"].startswith("u_")
    assert item["public_shard"] is None


def test_later_runs_sort_after_earlier_ones() -> None:
    early = rules.history_item(_row(id=99, created_at="2024-01-01T00:00:00Z"))["execution_id"]
    late = rules.history_item(_row(id=1, created_at="2024-01-02T00:00:00Z"))["execution_id"]
    assert early < late


def test_rows_the_platform_refuses_are_refused() -> None:
    with pytest.raises(rules.Refused, match="problem_number"):
        rules.history_item(_row(problem_number="a b"))
