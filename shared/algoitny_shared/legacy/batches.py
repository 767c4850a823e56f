"""Applying a batch of legacy records: in order per row, different rows at the same time.

Both importer kits consume their legacy topics with a FastStream batch subscriber (up to
``max_records`` records per poll, the group's offsets committed once the whole batch is applied;
a batch that raises is sought back and redelivered, which the importers' once-per-row-version
state makes harmless). Debezium keys each record by the row's primary key, so the records of one
row are in order within their partition; :func:`per_key` keeps that order (the records of one
key are applied one after the other, in batch order) and applies different keys concurrently, at
most ``concurrency`` at a time, so the round trips of many rows overlap instead of adding up.

Every key's records are applied even when another key's fail: the first failure is raised after
all of them finished (the batch is then redelivered as a whole; what was applied is skipped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_RECORDS = 500
DEFAULT_CONCURRENCY = 16


def records_of(raw: Any) -> list[Any]:
    """The consumer records of a FastStream Kafka message (a batch subscriber's tuple, or one)."""
    return list(raw) if isinstance(raw, tuple | list) else [raw]


async def per_key(
    items: Sequence[T],
    key_of: Callable[[int, T], Hashable],
    apply: Callable[[int, T], Awaitable[R]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    links: Callable[[int, T], Iterable[Hashable]] | None = None,
) -> list[R]:
    """``apply(i, item)`` for every item, the items of one ``key_of`` in order, keys concurrently
    (at most ``concurrency`` keys at a time); the results in the items' order.

    ``links``: more keys an item shares with others whose order matters too (e.g. rows that
    compete for one unique e-mail: the later one is refused, so it must come later). Items
    connected by any key (their row key or a link) are applied one after the other, in order."""
    parent: dict[Hashable, Hashable] = {}

    def root(key: Hashable) -> Hashable:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keys = [key_of(i, item) for i, item in enumerate(items)]
    if links is not None:
        for i, item in enumerate(items):
            for other in links(i, item):
                a, b = root(keys[i]), root(("link", other))
                if a != b:
                    parent[b] = a
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(root(key), []).append(i)
    results: list[Any] = [None] * len(items)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def run(indexes: list[int]) -> None:
        async with gate:
            for i in indexes:
                results[i] = await apply(i, items[i])

    outcomes = await asyncio.gather(*(run(ix) for ix in groups.values()), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return results
