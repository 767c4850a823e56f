"""Sign-in attempts counted per account and per client address, in DynamoDB.

Counters live in a table (not process memory) so every accounts instance sees the same
numbers. They are kept per fixed window and read as a sliding window (``SlidingWindow``: the
previous window's count carries over, decaying), so a lock does not lift, nor a burst's limit
refill, at a window's edge. An attempt is counted *before* its password is checked, by one
conditional ``ADD`` per counter that succeeds only while the counter has room: parallel attempts
cannot all read "room left" and then all try a password (check and record are one atomic step;
the previous window's count no longer changes but for give-backs, which only lower it). A
successful sign-in gives its count back, so only failures stay counted. Items expire once no
sliding window reaches them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from algoitny_accounts.adapters.tables import SIGN_IN_ATTEMPTS
from algoitny_accounts.domain.sign_in_window import SlidingWindow
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import batch_get


class SignInAttempts:
    def __init__(self, client: Any, namespace: str, window_s: int) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = SIGN_IN_ATTEMPTS.physical(namespace)
        self.window = SlidingWindow(window_s)

    def _pk(self, scope: str, key: str, window: int) -> str:
        return f"{scope}#{key}#{window}"

    def _expires(self, window: int) -> int:
        return (window + 2) * self.window.window_s  # the next window still carries this one

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

    async def try_attempt(self, limits: dict[str, tuple[str, int]], now: float | None = None) -> int | None:
        """Count one attempt under every scope (``{"account": (email, 5), ...}``) if each has
        room; None when counted. Otherwise nothing is counted and the answer is the whole
        seconds until every scope has room again (for ``Retry-After``)."""
        now = now or time.time()
        window = self.window.index(now)
        expires = self._expires(window)
        counts = await self._counts({scope: key for scope, (key, _) in limits.items()}, [window - 1, window])
        counted: list[str] = []
        for scope, (key, limit) in limits.items():
            previous, current = counts[scope]
            room = self.window.room(limit, previous, now)
            pk = self._pk(scope, key, window)
            if room <= 0 or not await self._add(pk, 1, room, expires):
                for done in counted:  # give back what this refused attempt took
                    await self._add(done, -1, None, expires)
                # The counter held at least ``room`` (a parallel attempt may have landed after
                # the read); every scope that is full makes the caller wait.
                counts[scope] = (previous, max(current, room))
                return self._wait(limits, counts, now)
            counted.append(pk)
        return None

    def _wait(self, limits: dict[str, tuple[str, int]], counts: dict[str, tuple[int, ...]], now: float) -> int:
        waits = []
        for scope, (_, limit) in limits.items():
            previous, current = counts[scope]
            if current + self.window.carried(previous, now) >= limit:
                waits.append(self.window.retry_after(limit, previous, current, now))
        return max(waits)

    async def forgive(self, keys: dict[str, str], now: float | None = None) -> None:
        """Give back one counted attempt (it succeeded: only failures stay counted)."""
        now = now or time.time()
        window = self.window.index(now)
        expires = self._expires(window)
        await asyncio.gather(*(self._add(self._pk(s, k, window), -1, None, expires) for s, k in keys.items()))

    async def _counts(self, keys: dict[str, str], windows: list[int]) -> dict[str, tuple[int, ...]]:
        """scope -> its counts in ``windows``, in order, by one consistent read (keys the read
        leaves unprocessed are asked again: a count read as 0 would loosen a lock)."""
        pks = {(scope, w): self._pk(scope, key, w) for scope, key in keys.items() for w in windows}
        items = await batch_get(self._client, self.table, [{"pk": {"S": pk}} for pk in pks.values()])
        found = {i["pk"]["S"]: int(i["count"]["N"]) for i in items}
        return {scope: tuple(found.get(pks[(scope, w)], 0) for w in windows) for scope in keys}

    async def failures(self, keys: dict[str, str], now: float | None = None) -> dict[str, int]:
        """scope -> attempts counted in the current fixed window, for e.g. {"account": email}."""
        window = self.window.index(now or time.time())
        return {scope: counts[0] for scope, counts in (await self._counts(keys, [window])).items()}
