"""shadow: legacy query answers vs the platform's, field by field (fakes on both sides)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from algoitny_migration.service_layer.shadow import Shadow
from algoitny_shared.legacy.identity import legacy_user_id

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
RUN = {
    "id": 1,
    "user_id": 7,
    "platform": "Codeforces",
    "problem_number": "1A",
    "language": "python",
    "passed_count": 2,
    "total_count": 2,
    "is_code_public": True,
    "created_at": NOW,
    "problem_id": 3,
    "failed_count": 0,
}


class FakeLegacy:
    def query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]:
        if statement.startswith("SELECT DISTINCT h.user_id"):
            return [{"user_id": 7}]
        if "FROM search_history h JOIN problems p" in statement:
            return [
                {
                    "id": 3,
                    "platform": "codeforces",
                    "problem_id": "1A",
                    "title": "극장 광장",
                    "tags": ["math"],
                    "is_completed": True,
                }
            ]
        if "FROM test_cases" in statement:
            return [{"input": "1\n", "output": "2\n"}]
        if "FROM search_history" in statement:
            return [RUN]
        if "FROM usage_logs" in statement:
            return [{"action": "execution", "n": 3}]
        if "FROM users u JOIN subscription_plans" in statement:
            return [{"max_hints_per_day": 5, "max_executions_per_day": 50}]
        if "FROM users" in statement:
            return [{"id": 7, "email": "Kim@legacy.example"}]
        raise AssertionError(statement)


class FakePlatform:
    def __init__(self, title: str = "극장 광장") -> None:
        self.title = title
        self.asked: list[str] = []

    async def history_as(self, user_id: str, scope: str, limit: int) -> dict[str, Any]:
        assert user_id == legacy_user_id(7)
        self.asked.append(scope)
        item = {
            "platform": "codeforces",
            "problem_id": "1A",
            "language": "python3",
            "passed": 2,
            "total": 2,
            "public": True,
            "created_at": NOW.isoformat(),
        }
        return {"items": [item]}

    async def my_usage(self, user_id: str) -> dict[str, Any]:
        return {"actions": [{"action": "execution", "used": 3, "limit": 50}, {"action": "hint", "used": 0, "limit": 5}]}

    async def my_stats(self, user_id: str) -> dict[str, Any]:
        return {
            "executions": 1,
            "by_platform": {"Codeforces": 1},
            "by_language": {"python3": 1},
            "problems_attempted": 1,
            "accepted": 1,
        }

    async def gateway_admin_get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if path == "/api/v1/admin/users":
            return {"items": [{"email": "kim@legacy.example"}]}
        return {
            "title": self.title,
            "tags": ["math"],
            "status": "completed",
            "test_cases": [{"input": "1\n", "output": "2\n"}],
        }


async def test_every_pattern_matches_when_the_platform_answers_as_the_legacy_queries() -> None:
    platform = FakePlatform()
    report = await Shadow(FakeLegacy(), platform).run(5)
    assert report.ok, report.as_dict()
    assert set(report.compared) == {
        "own_history",
        "own_or_public_feed",
        "plan_usage",
        "statistics",
        "problem_with_test_cases",
        "admin_user_list",
    }
    assert platform.asked == ["mine", "feed"] and report.users == [7]


async def test_a_differing_field_is_named_with_both_values() -> None:
    report = await Shadow(FakeLegacy(), FakePlatform(title="Theatre")).run(5)
    assert not report.ok
    [diff] = report.differences
    assert (diff.pattern, diff.field, diff.legacy, diff.platform) == (
        "problem_with_test_cases",
        "title",
        "극장 광장",
        "Theatre",
    )
    assert report.as_dict()["patterns"]["problem_with_test_cases"] == {"compared": 1, "matching": 0}
