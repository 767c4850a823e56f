"""DynamoDB persistence of problems and test cases (tables declared in algoitny_shared.tables)."""

from __future__ import annotations

import asyncio
from typing import Any

from algoitny_problems.domain.models import Problem, TestCaseIn
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.tables import PROBLEMS, TEST_CASES


def problem_key(platform: str, problem_id: str) -> str:
    return f"{platform}#{problem_id}"


def case_key(test_set_version: int, ordinal: int) -> str:
    return f"{test_set_version:06d}#{ordinal:06d}"


class ProblemRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = client
        self.problems = PROBLEMS.physical(namespace)
        self.test_cases = TEST_CASES.physical(namespace)

    def put_new(self, problem: Problem) -> dict[str, Any]:
        """A Put that fails if the problem already exists (for a transaction)."""
        item = problem.model_dump(mode="json")
        return {
            "Put": {
                "TableName": self.problems,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(platform)",
            }
        }

    def put_test_case(self, problem: Problem, ordinal: int, case: TestCaseIn) -> dict[str, Any]:
        item = {
            "problem_key": problem_key(problem.platform, problem.problem_id),
            "case_key": case_key(problem.test_set_version, ordinal),
            "ordinal": ordinal,
            "input": case.input,
            "output": case.output,
            "is_sample": case.is_sample,
        }
        return {"Put": {"TableName": self.test_cases, "Item": to_item(item)}}

    async def get(self, platform: str, problem_id: str) -> Problem | None:
        resp = await asyncio.to_thread(
            self._client.get_item,
            TableName=self.problems,
            Key={"platform": {"S": platform}, "problem_id": {"S": problem_id}},
        )
        item = resp.get("Item")
        return Problem.model_validate(from_item(item)) if item else None

    async def samples(self, problem: Problem, limit: int = 10) -> list[TestCaseIn]:
        """Sample cases of the current test set (a key-range query; samples are stored first)."""
        if not problem.test_set_version:
            return []
        prefix = f"{problem.test_set_version:06d}#"
        resp = await asyncio.to_thread(
            self._client.query,
            TableName=self.test_cases,
            KeyConditionExpression="problem_key = :pk AND begins_with(case_key, :v)",
            FilterExpression="is_sample = :t",
            ExpressionAttributeValues={
                ":pk": {"S": problem_key(problem.platform, problem.problem_id)},
                ":v": {"S": prefix},
                ":t": {"BOOL": True},
            },
            Limit=max(limit, 1) * 4,
        )
        cases = [from_item(i) for i in resp.get("Items", [])]
        return [TestCaseIn(input=c["input"], output=c["output"], is_sample=True) for c in cases][:limit]
