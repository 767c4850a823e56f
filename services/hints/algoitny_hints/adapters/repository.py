"""The hints table: requests with their results (the worker's idempotency record), the latest hints
per execution/problem, and daily LLM token budgets. State and events commit together (outbox)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Protocol

from algoitny_hints.adapters.tables import HINTS
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import batch_get, from_item, to_item
from algoitny_shared.events import EventEnvelope
from algoitny_shared.outbox import Outbox
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

REQUEST_TTL_S = 90 * 24 * 3600
BUDGET_TTL_S = 3 * 24 * 3600


def _request_key(request_id: str) -> dict[str, Any]:
    """The key of a hint request's item."""
    return {"pk": {"S": f"REQ#{request_id}"}, "sk": {"S": "REQ"}}


def execution_target(execution_id: str) -> str:
    return f"EXEC#{execution_id}"


def problem_target(platform: str, problem_id: str) -> str:
    return f"PROB#{platform}#{problem_id}"


class HintStore(Protocol):
    async def create_request(self, request: dict[str, Any], event: EventEnvelope, pending_target: str | None) -> bool:
        """Store a new request (False if this request id exists already: nothing written)."""
        ...

    async def get_request(self, request_id: str) -> dict[str, Any] | None: ...

    async def complete(self, request_id: str, target: str, view: dict[str, Any], event: EventEnvelope) -> bool:
        """Store the result once (False if another delivery stored it first)."""
        ...

    async def save_answer(self, request_id: str, answer: dict[str, Any]) -> None:
        """Keep the model's answer on the pending request, so a redelivery after a failed
        store reuses it instead of calling (and paying) the model again."""
        ...

    async def fail(self, request_id: str, target: str | None, reason: str) -> None: ...

    async def mark_refunded(self, request_id: str) -> bool: ...

    async def latest(self, target: str) -> dict[str, Any] | None: ...

    async def tokens_used(self, day: str, user_id: str | None) -> tuple[int, int]: ...

    async def add_tokens(self, day: str, user_id: str | None, tokens: int) -> None: ...


class DynamoHintStore:
    def __init__(self, client: Any, outbox: Outbox, namespace: str, fault_points: frozenset[str] = frozenset()) -> None:
        self._client = AsyncDynamoDB(client)
        self._outbox = outbox
        self._faults = fault_points
        self.table = HINTS.physical(namespace)

    def _uow(self) -> DynamoUnitOfWork:
        return DynamoUnitOfWork(self._client, self._outbox, self._faults)

    def _put(self, item: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    async def create_request(self, request: dict[str, Any], event: EventEnvelope, pending_target: str | None) -> bool:
        rid = request["request_id"]
        now = int(time.time())
        uow = self._uow()
        uow.add(
            self._put(
                {"pk": f"REQ#{rid}", "sk": "REQ", **request, "expires_at": now + REQUEST_TTL_S},
                "attribute_not_exists(pk)",
            )
        )
        if pending_target:
            view = {k: request.get(k) for k in ("request_id", "kind", "execution_id", "platform", "problem_id")}
            uow.add(
                self._put(
                    {
                        "pk": pending_target,
                        "sk": "LATEST",
                        "user_id": request.get("user_id"),
                        "view": json.dumps({**view, "status": "pending", "requested_at": request["requested_at"]}),
                    }
                )
            )
        uow.publish(event)
        try:
            await uow.commit()
        except TransactionConflict:
            return False
        return True

    async def get_request(self, request_id: str) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self.table,
            Key=_request_key(request_id),
            ConsistentRead=True,
        )
        return from_item(resp["Item"]) if "Item" in resp else None

    async def save_answer(self, request_id: str, answer: dict[str, Any]) -> None:
        # A failed condition means another delivery finished the request: nothing to keep.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            await self._client.update_item(
                TableName=self.table,
                Key=_request_key(request_id),
                UpdateExpression="SET answer = :a",
                ConditionExpression="attribute_exists(pk) AND NOT #s IN (:ready, :failed)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":a": {"S": json.dumps(answer, default=str)},
                    ":ready": {"S": "ready"},
                    ":failed": {"S": "failed"},
                },
            )

    async def complete(self, request_id: str, target: str, view: dict[str, Any], event: EventEnvelope) -> bool:
        uow = self._uow()
        payload = json.dumps(view, default=str)
        uow.add(
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _request_key(request_id),
                    "UpdateExpression": "SET #s = :ready, #v = :view",
                    "ConditionExpression": "attribute_exists(pk) AND #s <> :ready",
                    "ExpressionAttributeNames": {"#s": "status", "#v": "view"},
                    "ExpressionAttributeValues": {":ready": {"S": "ready"}, ":view": {"S": payload}},
                }
            }
        )
        uow.add(self._put({"pk": target, "sk": "LATEST", "user_id": view.get("user_id"), "view": payload}))
        uow.publish(event)
        try:
            await uow.commit()
        except TransactionConflict:
            return False
        return True

    async def fail(self, request_id: str, target: str | None, reason: str) -> None:
        try:
            await self._client.update_item(
                TableName=self.table,
                Key=_request_key(request_id),
                UpdateExpression="SET #s = :failed, failure = :r",
                ConditionExpression="attribute_exists(pk) AND #s <> :ready",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":failed": {"S": "failed"},
                    ":r": {"S": reason[:300]},
                    ":ready": {"S": "ready"},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return  # a result was stored: it stands
        if target:
            latest = await self.latest(target)
            if latest and latest.get("request_id") == request_id:
                latest["status"] = "failed"
                await self._client.put_item(
                    TableName=self.table,
                    Item=to_item({"pk": target, "sk": "LATEST", "view": json.dumps(latest)}),
                )

    async def mark_refunded(self, request_id: str) -> bool:
        try:
            await self._client.update_item(
                TableName=self.table,
                Key=_request_key(request_id),
                UpdateExpression="SET refunded_at = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(refunded_at)",
                ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def latest(self, target: str) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": target}, "sk": {"S": "LATEST"}},
            ConsistentRead=True,
        )
        if "Item" not in resp:
            return None
        view: dict[str, Any] = json.loads(from_item(resp["Item"])["view"])
        return view

    async def tokens_used(self, day: str, user_id: str | None) -> tuple[int, int]:
        keys = [{"pk": {"S": f"BUDGET#{day}"}, "sk": {"S": "GLOBAL"}}]
        if user_id:
            keys.append({"pk": {"S": f"BUDGET#{day}"}, "sk": {"S": f"USER#{user_id}"}})
        # Keys the read leaves unprocessed are asked again: read as 0 they would let the budget overspend.
        items = [from_item(i) for i in await batch_get(self._client, self.table, keys)]
        got = {i["sk"]: int(i.get("tokens", 0)) for i in items}
        return got.get(f"USER#{user_id}", 0), got.get("GLOBAL", 0)

    async def add_tokens(self, day: str, user_id: str | None, tokens: int) -> None:
        for sk in ["GLOBAL", *([f"USER#{user_id}"] if user_id else [])]:
            await self._client.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"BUDGET#{day}"}, "sk": {"S": sk}},
                UpdateExpression="ADD tokens :n SET expires_at = :exp",
                ExpressionAttributeValues={
                    ":n": {"N": str(tokens)},
                    ":exp": {"N": str(int(time.time()) + BUDGET_TTL_S)},
                },
            )


class MemoryHintStore:
    """The same contract in memory: for unit tests and the benchmark's fake parts."""

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, Any]] = {}
        self.latest_views: dict[str, dict[str, Any]] = {}
        self.events: list[EventEnvelope] = []
        self.tokens: dict[tuple[str, str], int] = {}

    async def create_request(self, request: dict[str, Any], event: EventEnvelope, pending_target: str | None) -> bool:
        if request["request_id"] in self.requests:
            return False
        self.requests[request["request_id"]] = dict(request)
        if pending_target:
            self.latest_views[pending_target] = {
                **{k: request.get(k) for k in ("request_id", "kind", "execution_id", "platform", "problem_id")},
                "status": "pending",
                "requested_at": request["requested_at"],
            }
        self.events.append(event)
        return True

    async def get_request(self, request_id: str) -> dict[str, Any] | None:
        r = self.requests.get(request_id)
        return dict(r) if r else None

    async def complete(self, request_id: str, target: str, view: dict[str, Any], event: EventEnvelope) -> bool:
        r = self.requests.get(request_id)
        if r is None or r.get("status") == "ready":
            return False
        r.update(status="ready", view=json.dumps(view, default=str))
        self.latest_views[target] = json.loads(json.dumps(view, default=str))
        self.events.append(event)
        return True

    async def save_answer(self, request_id: str, answer: dict[str, Any]) -> None:
        r = self.requests.get(request_id)
        if r is not None and r.get("status") not in ("ready", "failed"):
            r["answer"] = json.dumps(answer, default=str)

    async def fail(self, request_id: str, target: str | None, reason: str) -> None:
        r = self.requests.get(request_id)
        if r and r.get("status") != "ready":
            r.update(status="failed", failure=reason)
        if target and self.latest_views.get(target, {}).get("request_id") == request_id:
            self.latest_views[target]["status"] = "failed"

    async def mark_refunded(self, request_id: str) -> bool:
        r = self.requests.get(request_id)
        if r is None or "refunded_at" in r:
            return False
        r["refunded_at"] = int(time.time())
        return True

    async def latest(self, target: str) -> dict[str, Any] | None:
        v = self.latest_views.get(target)
        return dict(v) if v else None

    async def tokens_used(self, day: str, user_id: str | None) -> tuple[int, int]:
        return self.tokens.get((day, f"USER#{user_id}"), 0), self.tokens.get((day, "GLOBAL"), 0)

    async def add_tokens(self, day: str, user_id: str | None, tokens: int) -> None:
        for sk in ["GLOBAL", *([f"USER#{user_id}"] if user_id else [])]:
            self.tokens[(day, sk)] = self.tokens.get((day, sk), 0) + tokens
