"""Sign-in attempts counted per account and per client address, in fixed windows, in DynamoDB.

Counters live in a table (not process memory) so every accounts instance sees the same
numbers. An attempt is counted *before* its password is checked, by one conditional ``ADD``
per counter that succeeds only while the counter is under its limit: parallel attempts
cannot all read "under the limit" and then all try a password (check and record are one
atomic step). A successful sign-in gives its count back, so only failures stay counted.
Items expire after their window.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from algoitny_accounts.adapters.tables import SIGN_IN_ATTEMPTS
from algoitny_shared.aws import AsyncDynamoDB


class SignInAttempts:
    def __init__(self, client: Any, namespace: str, window_s: int) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = SIGN_IN_ATTEMPTS.physical(namespace)
        self.window_s = window_s

    def _window(self, now: float) -> int:
        return int(now // self.window_s)

    def _pk(self, scope: str, key: str, window: int) -> str:
        return f"{scope}#{key}#{window}"

    def retry_after(self, now: float) -> int:
        return max(1, int((self._window(now) + 1) * self.window_s - now))

    async def _add(self, pk: str, delta: int, limit: int | None, expires: int) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": "ADD #c :d SET expires_at = :exp",
            "ExpressionAttributeNames": {"#c": "count"},
            "ExpressionAttributeValues": {":d": {"N": str(delta)}, ":exp": {"N": str(expires)}},
        }
        if limit is not None:
            kwargs["ConditionExpression"] = "attribute_not_exists(#c) OR #c < :limit"
            kwargs["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
        try:
            await self._client.update_item(**kwargs)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def try_attempt(self, limits: dict[str, tuple[str, int]], now: float | None = None) -> bool:
        """Count one attempt under every scope (``{"account": (email, 5), ...}``) if each is under
        its limit; False (and nothing counted) when any scope has used up its window."""
        now = now or time.time()
        window = self._window(now)
        expires = int((window + 2) * self.window_s)
        counted: list[str] = []
        for scope, (key, limit) in limits.items():
            pk = self._pk(scope, key, window)
            if not await self._add(pk, 1, limit, expires):
                for done in counted:  # give back what this refused attempt took
                    await self._add(done, -1, None, expires)
                return False
            counted.append(pk)
        return True

    async def forgive(self, keys: dict[str, str], now: float | None = None) -> None:
        """Give back one counted attempt (it succeeded: only failures stay counted)."""
        now = now or time.time()
        window = self._window(now)
        expires = int((window + 2) * self.window_s)
        await asyncio.gather(*(self._add(self._pk(s, k, window), -1, None, expires) for s, k in keys.items()))

    async def failures(self, keys: dict[str, str], now: float | None = None) -> dict[str, int]:
        """scope -> attempts counted in the current window, for e.g. {"account": email, "address": ip}."""
        window = self._window(now or time.time())
        pks = {scope: self._pk(scope, key, window) for scope, key in keys.items()}
        resp = await self._client.batch_get_item(
            RequestItems={self.table: {"Keys": [{"pk": {"S": pk}} for pk in pks.values()], "ConsistentRead": True}},
        )
        found = {i["pk"]["S"]: int(i["count"]["N"]) for i in resp.get("Responses", {}).get(self.table, [])}
        return {scope: found.get(pk, 0) for scope, pk in pks.items()}
