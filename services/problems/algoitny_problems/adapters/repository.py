"""DynamoDB persistence of problems (tables declared in adapters/tables.py).

Every read is a GetItem, a Query on the key or a Query on a GSI; nothing here scans.
"""

from __future__ import annotations

from typing import Any

from algoitny_problems.adapters.keys import problem_key, ts
from algoitny_problems.adapters.tables import PROBLEMS, PROBLEMS_CONTROL, TEST_CASES
from algoitny_problems.adapters.test_cases import inline_item
from algoitny_problems.domain.models import Problem, TestCaseIn
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, put_if_absent, to_item, to_value

# Attributes an update never overwrites: keys, and counters kept by atomic ADD elsewhere.
_NOT_SET_ON_UPDATE = frozenset({"platform", "problem_id", "execution_count", "test_set_seq"})
ID_COUNTER_PK = "COUNTER#problem-id"
PLATFORMS_PK = "PLATFORMS"


def problem_item(problem: Problem) -> dict[str, Any]:
    data = problem.model_dump(mode="json")
    data["created_at"] = ts(problem.created_at)
    data["updated_at"] = ts(problem.updated_at)
    data["deleted_at"] = ts(problem.deleted_at) if problem.deleted_at else None
    data["status_created"] = f"{problem.status}#{data['created_at']}"
    return data


def problem_from_item(item: dict[str, Any]) -> Problem:
    return Problem.model_validate(from_item(item))


class ProblemRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.problems = PROBLEMS.physical(namespace)
        self.test_cases = TEST_CASES.physical(namespace)
        self.control = PROBLEMS_CONTROL.physical(namespace)

    # ------------------------------------------------------------------ writes (transaction items)

    def put_new(self, problem: Problem) -> dict[str, Any]:
        """A Put that fails if the problem already exists (AP-34 folded into the write)."""
        return put_if_absent(self.problems, "platform", problem_item(problem))

    def put_test_case(self, problem: Problem, ordinal: int, case: TestCaseIn) -> dict[str, Any]:
        """An inline case of the create transaction (create only takes small cases)."""
        item = inline_item(
            problem_key(problem.platform, problem.problem_id, problem.incarnation),
            problem.test_set_version,
            ordinal,
            case,
        )
        return {"Put": {"TableName": self.test_cases, "Item": to_item(item)}}

    def add_platform(self, platform: str) -> dict[str, Any]:
        """Keep the set of platforms in use (AP-43) in one item, updated with each create."""
        return {
            "Update": {
                "TableName": self.control,
                "Key": {"pk": {"S": PLATFORMS_PK}},
                "UpdateExpression": "ADD platforms :p",
                "ExpressionAttributeValues": {":p": {"SS": [platform]}},
            }
        }

    def update(
        self,
        new: Problem,
        *,
        expected_version: int,
        condition: str = "",
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An Update that writes ``new``'s fields if the stored version is still ``expected_version``
        (optimistic concurrency). Counters kept by ADD are never overwritten."""
        item = problem_item(new)
        all_names: dict[str, str] = dict(names or {})
        attr_values: dict[str, Any] = {":expected": {"N": str(expected_version)}}
        sets: list[str] = []
        removes: list[str] = []
        for i, (field, value) in enumerate(sorted(item.items())):
            if field in _NOT_SET_ON_UPDATE:
                continue
            all_names[f"#f{i}"] = field
            if value is None:
                removes.append(f"#f{i}")
            else:
                attr_values[f":v{i}"] = to_value(value)
                sets.append(f"#f{i} = :v{i}")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        all_names["#version"] = "version"
        cond = "attribute_exists(platform) AND #version = :expected"
        if condition:
            cond += f" AND ({condition})"
        attr_values.update(values or {})
        return {
            "Update": {
                "TableName": self.problems,
                "Key": self.key(new.platform, new.problem_id),
                "UpdateExpression": expression,
                "ConditionExpression": cond,
                "ExpressionAttributeNames": all_names,
                "ExpressionAttributeValues": attr_values,
            }
        }

    def delete(self, problem: Problem) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.problems,
                "Key": self.key(problem.platform, problem.problem_id),
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(problem.version)}},
            }
        }

    @staticmethod
    def key(platform: str, problem_id: str) -> dict[str, Any]:
        return {"platform": {"S": platform}, "problem_id": {"S": problem_id}}

    # ------------------------------------------------------------------ single-item writes

    async def allocate_id(self) -> int:
        """The next platform-wide numeric id (an atomic counter; gaps are harmless)."""
        resp = await self._client.update_item(
            TableName=self.control,
            Key={"pk": {"S": ID_COUNTER_PK}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["n"]["N"])

    async def allocate_test_set_version(self, platform: str, problem_id: str) -> int | None:
        """A fresh test-set version, never reused (even after a crashed upload); None if the
        problem is gone or deleted."""
        try:
            resp = await self._client.update_item(
                TableName=self.problems,
                Key=self.key(platform, problem_id),
                UpdateExpression="ADD test_set_seq :one",
                ConditionExpression="attribute_exists(platform) AND #st <> :deleted",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":deleted": {"S": "deleted"}},
                ReturnValues="UPDATED_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return int(resp["Attributes"]["test_set_seq"]["N"])

    def add_execution(self, platform: str, problem_id: str) -> dict[str, Any]:
        """+1 on the execution count of a problem that exists (a transaction item)."""
        return {
            "Update": {
                "TableName": self.problems,
                "Key": self.key(platform, problem_id),
                "UpdateExpression": "ADD execution_count :one",
                "ConditionExpression": "attribute_exists(platform)",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }

    async def record_judge_health(
        self, platform: str, problem_id: str, expected_version: int, health: dict[str, Any], inbox_put: dict[str, Any]
    ) -> str:
        """Set the problem's ``judge_health`` (not an edit: its version stays) and the consumer's inbox
        mark in one transaction, on condition that the problem was not edited since it was read.
        Returns recorded / duplicate / changed."""
        items = [
            inbox_put,
            {
                "Update": {
                    "TableName": self.problems,
                    "Key": self.key(platform, problem_id),
                    "UpdateExpression": "SET judge_health = :h",
                    "ConditionExpression": "attribute_exists(platform) AND version = :v",
                    "ExpressionAttributeValues": {":h": to_value(health), ":v": {"N": str(expected_version)}},
                }
            },
        ]
        try:
            await self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return "duplicate"
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                return "changed"
            raise
        return "recorded"

    # ------------------------------------------------------------------ reads

    async def get(self, platform: str, problem_id: str, consistent: bool = False) -> Problem | None:
        """AP-25: one GetItem by the natural key."""
        resp = await self._client.get_item(
            TableName=self.problems,
            Key=self.key(platform, problem_id),
            ConsistentRead=consistent,
        )
        item = resp.get("Item")
        return problem_from_item(item) if item else None

    async def get_by_id(self, numeric_id: int) -> Problem | None:
        """AP-24: one Query on IdIndex."""
        resp = await self._client.query(
            TableName=self.problems,
            IndexName="IdIndex",
            KeyConditionExpression="id = :id",
            ExpressionAttributeValues={":id": {"N": str(numeric_id)}},
            Limit=1,
        )
        items = resp.get("Items", [])
        return problem_from_item(items[0]) if items else None

    async def list_page(
        self,
        *,
        status: str,
        platform: str | None,
        language: str | None,
        limit: int,
        start_key: dict[str, Any] | None,
        created_by: str | None = None,
    ) -> tuple[list[Problem], dict[str, Any] | None]:
        """AP-28/29/31/32: newest first on the GSI that fits the filter.

        platform -> PlatformIndex, language -> LanguageIndex, otherwise CompletionIndex; with
        both platform and language the platform query filters on language (a Query, no Scan).
        """
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        filter_expr = None
        if platform is not None:
            index = "PlatformIndex"
            key_expr = "platform = :h AND begins_with(status_created, :s)"
            values[":h"] = {"S": platform}
            values[":s"] = {"S": f"{status}#"}
            if language is not None:
                filter_expr = "#lang = :lang"
                names["#lang"] = "language"
                values[":lang"] = {"S": language}
        elif language is not None:
            index = "LanguageIndex"
            key_expr = "#lang = :h AND begins_with(status_created, :s)"
            names["#lang"] = "language"
            values[":h"] = {"S": language}
            values[":s"] = {"S": f"{status}#"}
        else:
            index = "CompletionIndex"
            key_expr = "#st = :h"
            names["#st"] = "status"
            values[":h"] = {"S": status}
        if created_by is not None:  # a registrar's own drafts / deleted problems
            names["#by"] = "created_by"
            values[":by"] = {"S": created_by}
            filter_expr = f"({filter_expr}) AND #by = :by" if filter_expr else "#by = :by"
        found: list[Problem] = []
        last = start_key
        for _ in range(10):  # a filtered query may need a few pages to fill one
            kwargs: dict[str, Any] = {
                "TableName": self.problems,
                "IndexName": index,
                "KeyConditionExpression": key_expr,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": limit - len(found),
            }
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if filter_expr:
                kwargs["FilterExpression"] = filter_expr
            if last:
                kwargs["ExclusiveStartKey"] = last
            resp = await self._client.query(**kwargs)
            found.extend(problem_from_item(i) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or len(found) >= limit:
                break
        return found, last

    async def count(self, status: str) -> int:
        """AP-45: Select=COUNT on CompletionIndex (keys only are read; admin screens only)."""
        total = 0
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.problems,
                "IndexName": "CompletionIndex",
                "KeyConditionExpression": "#st = :s",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {":s": {"S": status}},
                "Select": "COUNT",
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = await self._client.query(**kwargs)
            total += int(resp.get("Count", 0))
            start = resp.get("LastEvaluatedKey")
            if not start:
                return total

    async def platforms(self) -> list[str]:
        """AP-43: one GetItem."""
        resp = await self._client.get_item(TableName=self.control, Key={"pk": {"S": PLATFORMS_PK}})
        item = resp.get("Item")
        return sorted(item["platforms"]["SS"]) if item and "platforms" in item else []
