"""Control items of test-set uploads: idempotency keys, upload records and purges.

An upload record exists from before the first case is written until the set is flipped
current (then it is removed from the GC index) or collected. ``GcIndex`` is sparse: it
holds exactly the records garbage collection must look at, ordered by when they are due.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from algoitny_problems.adapters.keys import ts
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, put_if_absent, to_item, to_value

IDEMPOTENCY_TTL_S = 24 * 3600
GC_DUE = "1"


def idem_pk(platform: str, problem_id: str, incarnation: str, key: str) -> str:
    return f"IDEM#{platform}#{problem_id}#{incarnation}#{key}"


def create_idem_pk(platform: str, problem_id: str, key: str) -> str:
    return f"CREATED#{platform}#{problem_id}#{key}"


def upload_pk(platform: str, problem_id: str, incarnation: str, version: int) -> str:
    return f"UPLOAD#{platform}#{problem_id}#{incarnation}#{version:06d}"


def purge_pk(platform: str, problem_id: str, incarnation: str) -> str:
    return f"PURGE#{platform}#{problem_id}#{incarnation}"


def registrar_pk(user_id: str) -> str:
    return f"REGISTRAR#{user_id}"


def key_versions_pk(platform: str, problem_id: str) -> str:
    return f"KEYVERSION#{platform}#{problem_id}"


def _at(seconds_from_now: float, now: datetime | None = None) -> str:
    return ts((now or datetime.now(UTC)) + timedelta(seconds=seconds_from_now))


class ControlRepository:
    def __init__(self, client: Any, table: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = table

    async def get(self, pk: str) -> dict[str, Any] | None:
        resp = await self._client.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        item = resp.get("Item")
        if not item:
            return None
        data = from_item(item)
        if "expires_at" in data and int(data["expires_at"]) < time.time():
            return None  # TTL deletion is lazy (and moto never does it)
        return data

    # ------------------------------------------------------------------ transaction items

    def put_upload(
        self, platform: str, problem_id: str, incarnation: str, version: int, *, stale_after_s: float
    ) -> dict[str, Any]:
        """The record that makes a started upload visible to GC should its writer die."""
        item = {
            "pk": upload_pk(platform, problem_id, incarnation, version),
            "kind": "upload",
            "platform": platform,
            "problem_id": problem_id,
            "incarnation": incarnation,
            "version": version,
            "state": "writing",
            "gc": GC_DUE,
            "gc_after": _at(stale_after_s),
            "started_at": ts(datetime.now(UTC)),
        }
        return {"Put": {"TableName": self.table, "Item": to_item(item)}}

    def put_idempotency(
        self, pk: str, *, request_hash: str, mode: str, version: int, base_version: int
    ) -> dict[str, Any]:
        item = {
            "pk": pk,
            "kind": "idempotency",
            "request_hash": request_hash,
            "mode": mode,
            "version": version,
            "base_version": base_version,
            "state": "in_progress",
            "expires_at": int(time.time()) + IDEMPOTENCY_TTL_S,
        }
        return put_if_absent(self.table, "pk", item)

    def put_created(self, pk: str, *, request_hash: str, answer: str) -> dict[str, Any]:
        """A create's idempotency record, written in the create's own transaction: it exists only
        if the create committed, and holds the create's answer for a retry under the same key."""
        item = {
            "pk": pk,
            "kind": "created",
            "request_hash": request_hash,
            "result": answer,
            "state": "done",
            "expires_at": int(time.time()) + IDEMPOTENCY_TTL_S,
        }
        return put_if_absent(self.table, "pk", item)

    def commit_upload(self, pk: str) -> dict[str, Any]:
        """The set became current: GC must never touch it (fails if GC already claimed it)."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": pk}},
                "UpdateExpression": "SET #st = :committed REMOVE gc, gc_after",
                "ConditionExpression": "#st = :writing",
                "ExpressionAttributeNames": {"#st": "state"},
                "ExpressionAttributeValues": {":committed": {"S": "committed"}, ":writing": {"S": "writing"}},
            }
        }

    def complete_idempotency(self, pk: str, result: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": pk}},
                "UpdateExpression": "SET #st = :done, #res = :res",
                "ConditionExpression": "#st = :in_progress",
                "ExpressionAttributeNames": {"#st": "state", "#res": "result"},
                "ExpressionAttributeValues": {
                    ":done": {"S": "done"},
                    ":in_progress": {"S": "in_progress"},
                    ":res": {"S": json.dumps(result)},
                },
            }
        }

    def supersede(
        self, platform: str, problem_id: str, incarnation: str, version: int, *, grace_s: float
    ) -> dict[str, Any]:
        """The previous set is garbage once the flip commits; GC removes it after a grace period
        (long enough for readers that already hold the old version to finish)."""
        item = {
            "pk": upload_pk(platform, problem_id, incarnation, version),
            "kind": "upload",
            "platform": platform,
            "problem_id": problem_id,
            "incarnation": incarnation,
            "version": version,
            "state": "garbage",
            "gc": GC_DUE,
            "gc_after": _at(grace_s),
        }
        return {"Put": {"TableName": self.table, "Item": to_item(item)}}

    def put_purge(self, platform: str, problem_id: str, incarnation: str) -> dict[str, Any]:
        item = {
            "pk": purge_pk(platform, problem_id, incarnation),
            "kind": "purge",
            "platform": platform,
            "problem_id": problem_id,
            "incarnation": incarnation,
            "state": "purge",
            "gc": GC_DUE,
            "gc_after": _at(0),
        }
        return {"Put": {"TableName": self.table, "Item": to_item(item)}}

    def count_registered(self, user_id: str, cap: int) -> dict[str, Any]:
        """+1 on the problems a registrar has registered, if still under the plan's cap (-1: none)."""
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": {"S": registrar_pk(user_id)}},
            "UpdateExpression": "ADD problems :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if cap >= 0:
            update["ConditionExpression"] = "attribute_not_exists(problems) OR problems < :cap"
            update["ExpressionAttributeValues"][":cap"] = {"N": str(cap)}
        return {"Update": update}

    def uncount_registered(self, user_id: str) -> dict[str, Any]:
        """-1 when one of a registrar's problems is hard-deleted (it was +1 in the same transaction
        that created the problem, so the count never goes below 0)."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": registrar_pk(user_id)}},
                "UpdateExpression": "ADD problems :minus",
                "ExpressionAttributeValues": {":minus": {"N": "-1"}},
            }
        }

    def put_key_version(self, platform: str, problem_id: str, version: int) -> dict[str, Any]:
        """The last version a hard-deleted problem reached under its key: the next incarnation
        starts above it (kept forever: one tiny item per deleted key)."""
        item = {"pk": key_versions_pk(platform, problem_id), "kind": "key_version", "version": version}
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk) OR version < :v",
                "ExpressionAttributeValues": {":v": {"N": str(version)}},
            }
        }

    def check_key_version(self, platform: str, problem_id: str, seen: int) -> dict[str, Any]:
        """A create's guard: the key's last version is still the one it started above."""
        if seen == 0:
            return {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": key_versions_pk(platform, problem_id)}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": {"pk": {"S": key_versions_pk(platform, problem_id)}},
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(seen)}},
            }
        }

    async def key_version(self, platform: str, problem_id: str) -> int:
        record = await self.get(key_versions_pk(platform, problem_id))
        return int(record["version"]) if record else 0

    async def registered(self, user_id: str) -> int:
        record = await self.get(registrar_pk(user_id))
        return int(record.get("problems", 0)) if record else 0

    # ------------------------------------------------------------------ single writes

    async def abandon(self, upload: str, idem: str | None) -> None:
        """A flip lost a race: the written set is garbage now, and the key may be retried."""
        await self._client.update_item(
            TableName=self.table,
            Key={"pk": {"S": upload}},
            UpdateExpression="SET #st = :garbage, gc = :due, gc_after = :now",
            ConditionExpression="#st = :writing",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={
                ":garbage": {"S": "garbage"},
                ":writing": {"S": "writing"},
                ":due": {"S": GC_DUE},
                ":now": {"S": _at(0)},
            },
        )
        if idem:
            await self._client.delete_item(TableName=self.table, Key={"pk": {"S": idem}})

    async def due(self, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """Records whose GC time has come, oldest first (one Query on the sparse GcIndex)."""
        resp = await self._client.query(
            TableName=self.table,
            IndexName="GcIndex",
            KeyConditionExpression="gc = :due AND gc_after <= :now",
            ExpressionAttributeValues={":due": {"S": GC_DUE}, ":now": {"S": ts(now)}},
            Limit=limit,
        )
        return [from_item(i) for i in resp.get("Items", [])]

    async def claim(self, record: dict[str, Any], now: datetime, lease_s: float) -> bool:
        """Take a due record for collection. A claimed upload can no longer be flipped (its
        writer's commit requires state ``writing``); the lease lets another collector retry
        if this one dies."""
        try:
            await self._client.update_item(
                TableName=self.table,
                Key={"pk": {"S": record["pk"]}},
                UpdateExpression="SET #st = :collecting, gc_after = :lease, collected_from = :prev",
                ConditionExpression="gc = :due AND gc_after <= :now AND #st = :prev",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={
                    ":collecting": {"S": "collecting"},
                    ":lease": {"S": _at(lease_s, now)},
                    ":due": {"S": GC_DUE},
                    ":now": {"S": ts(now)},
                    ":prev": to_value(record["state"]),
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def delete(self, pk: str) -> None:
        await self._client.delete_item(TableName=self.table, Key={"pk": {"S": pk}})
