"""Mapping rules of the problems service's legacy importer (no I/O)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from algoitny_problems.adapters.repository import problem_item
from algoitny_problems.domain import legacy as rules
from algoitny_shared.legacy.canonical import canonical_row
from algoitny_shared.legacy.changes import parse_change
from algoitny_shared.legacy.rows import ProblemRow, ScriptGenerationJobRow

SOURCE = "a, b = map(int, input().split())\nprint(a + b)  # 합\n"


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": 11,
        "platform": "Baekjoon",
        "problem_id": "1000",
        "title": "A+B (두 수의 합)",
        "problem_url": "https://www.acmicpc.net/problem/1000",
        "tags": json.dumps(["math", "구현"]),
        "solution_code": base64.b64encode(SOURCE.encode()).decode(),
        "language": "python",
        "constraints": "1 <= a, b <= 10",
        "is_completed": True,
        "is_deleted": False,
        "deleted_at": None,
        "deleted_reason": None,
        "metadata": json.dumps({"execution_count": 4}),
        "created_at": "2024-03-01T10:00:00.123456Z",
    }
    row.update(over)
    return row


def _typed(**over: object) -> ProblemRow:
    change = parse_change("problems", None, json.dumps(_row(**over)))
    assert change is not None
    row = change.typed()
    assert isinstance(row, ProblemRow)
    return row


def test_base64_solution_is_decoded_and_given_back_exactly_for_verify() -> None:
    row = _typed()
    fields, legacy = rules.problem_fields(row)
    assert fields["reference_solution"] == SOURCE
    assert fields["platform"] == "baekjoon" and fields["language"] == "python3" and fields["status"] == "completed"
    problem = rules.new_problem(fields, numeric_id=5, incarnation="abc", after_version=0)
    item = {**problem_item(problem), "legacy": legacy}
    rebuilt = rules.problem_columns(item)
    assert canonical_row("problems", "problems", rebuilt) == canonical_row("problems", "problems", row.columns())


def test_solution_that_is_not_base64_is_kept_raw_and_still_round_trips() -> None:
    row = _typed(solution_code="print('not base64!')")
    fields, legacy = rules.problem_fields(row)
    assert fields["reference_solution"] == "print('not base64!')" and legacy["solution_encoding"] == "raw"
    item = {**problem_item(rules.new_problem(fields, numeric_id=1, incarnation="x", after_version=0)), "legacy": legacy}
    assert rules.problem_columns(item)["solution_code"] == "print('not base64!')"


@pytest.mark.parametrize("raw", ["@@@@", base64.b64encode(b"\xff\xfe\x00").decode()])
def test_invalid_base64_or_non_utf8_bytes_are_kept_raw(raw: str) -> None:
    assert rules.decode_solution(raw) == (raw, "raw")


def test_deleted_and_draft_problems_keep_their_state() -> None:
    deleted_at = "2024-04-01T00:00:00Z"
    fields, legacy = rules.problem_fields(
        _typed(is_deleted=True, is_completed=True, deleted_at=deleted_at, deleted_reason="dup")
    )
    assert fields["status"] == "deleted" and fields["deleted_reason"] == "dup"
    assert legacy["is_completed"] is True  # a deleted problem still says whether it was completed
    item = {**problem_item(rules.new_problem(fields, numeric_id=1, incarnation="x", after_version=0)), "legacy": legacy}
    columns = rules.problem_columns(item)
    assert columns["is_deleted"] and columns["is_completed"]
    assert columns["deleted_at"] == datetime(2024, 4, 1, tzinfo=UTC)
    draft, _ = rules.problem_fields(_typed(is_completed=False))
    assert draft["status"] == "draft"


@pytest.mark.parametrize(
    ("tags", "reason"), [(json.dumps({"a": 1}), "not a JSON list"), (json.dumps(["ok", 3]), "other than strings")]
)
def test_tags_that_are_not_a_list_of_strings_are_refused(tags: str, reason: str) -> None:
    with pytest.raises(rules.Refused, match=reason):
        rules.problem_fields(_typed(tags=tags))


@pytest.mark.parametrize(("platform", "problem_id"), [("stats", "1"), ("code forces", "1"), ("boj", "1 2")])
def test_keys_the_platform_refuses_are_refused(platform: str, problem_id: str) -> None:
    with pytest.raises(rules.Refused):
        rules.problem_fields(_typed(platform=platform, problem_id=problem_id))


def test_unknown_language_leaves_no_judge_language_but_keeps_the_raw_one() -> None:
    fields, legacy = rules.problem_fields(_typed(language="Brainfuck"))
    assert fields["language"] is None and legacy["language"] == "Brainfuck"


def test_cases_follow_legacy_order_and_the_first_small_ones_are_samples() -> None:
    rows = [
        {"id": 3, "created_at": "2024-01-01T00:00:02+00:00", "input": "3", "output": "3"},
        {"id": 1, "created_at": "2024-01-01T00:00:01+00:00", "input": "x" * 5000, "output": "1"},
        {"id": 2, "created_at": "2024-01-01T00:00:02+00:00", "input": "2", "output": "2"},
        {"id": 4, "created_at": "2024-01-01T00:00:03+00:00", "input": "4", "output": "4"},
    ]
    cases = rules.ordered_cases(rows)
    assert [c.output for c in cases] == ["1", "2", "3", "4"]
    assert [c.is_sample for c in cases] == [False, True, True, False]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("COMPLETED", "succeeded"), ("FAILED", "failed"), ("PENDING", "cancelled"), ("PROCESSING", "cancelled")],
)
def test_legacy_jobs_become_historical_jobs_never_run_again(status: str, expected: str) -> None:
    row = ScriptGenerationJobRow.model_validate(
        {
            "id": 1,
            "platform": "Codeforces",
            "problem_id": "4A",
            "title": "Watermelon",
            "tags": "[]",
            "language": "cpp",
            "constraints": "",
            "job_type": "script_generation",
            "status": status,
            "generator_code": "def generate_test_cases(n, size): ...",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:01:00Z",
        }
    )
    fields = rules.job_fields(row)
    assert fields["status"] == expected and fields["platform"] == "codeforces"
    assert (fields["error"] is not None) == (status in ("PENDING", "PROCESSING"))
