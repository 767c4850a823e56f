"""Failed sign-ins counted per account and per client address, in fixed windows, in DynamoDB.

Counters live in a table (not process memory) so every accounts instance sees the same
numbers; each failure is one atomic ``ADD``. Items expire after their window.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from algoitny_shared.tables import SIGN_IN_ATTEMPTS


class SignInAttempts:
    def __init__(self, client: Any, namespace: str, window_s: int) -> None:
        self._client = client
        self.table = SIGN_IN_ATTEMPTS.physical(namespace)
        self.window_s = window_s

    def _window(self, now: float) -> int:
        return int(now // self.window_s)

    def _pk(self, scope: str, key: str, window: int) -> str:
        return f"{scope}#{key}#{window}"

    def retry_after(self, now: float) -> int:
        return max(1, int((self._window(now) + 1) * self.window_s - now))

    async def failures(self, keys: dict[str, str], now: float | None = None) -> dict[str, int]:
        """scope -> failures in the current window, for e.g. {"account": email, "address": ip}."""
        window = self._window(now or time.time())
        pks = {scope: self._pk(scope, key, window) for scope, key in keys.items()}
        resp = await asyncio.to_thread(
            self._client.batch_get_item,
            RequestItems={self.table: {"Keys": [{"pk": {"S": pk}} for pk in pks.values()], "ConsistentRead": True}},
        )
        found = {i["pk"]["S"]: int(i["count"]["N"]) for i in resp.get("Responses", {}).get(self.table, [])}
        return {scope: found.get(pk, 0) for scope, pk in pks.items()}

    async def record_failure(self, keys: dict[str, str], now: float | None = None) -> None:
        now = now or time.time()
        window = self._window(now)
        expires = int((window + 2) * self.window_s)

        def add(pk: str) -> None:
            self._client.update_item(
                TableName=self.table,
                Key={"pk": {"S": pk}},
                UpdateExpression="ADD #c :one SET expires_at = :exp",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str(expires)}},
            )

        await asyncio.gather(*(asyncio.to_thread(add, self._pk(scope, key, window)) for scope, key in keys.items()))
