from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout_s: float = 20.0, interval_s: float = 0.1) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


async def eventually_async(
    probe: Callable[[], T | Awaitable[T | None] | None], *, timeout_s: float = 20.0, interval_s: float = 0.1
) -> T:
    """``eventually`` for async tests: ``probe`` (plain or a coroutine function) until it returns
    something truthy, yielding to the loop between tries; fail after ``timeout_s``. The one way an
    async test waits for a condition, instead of a fixed sleep."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        label_part = line[len(name) + 1 : line.index("}")]
        found = dict(item.split("=", 1) for item in label_part.split(",") if "=" in item)
        found = {k: v.strip('"') for k, v in found.items()}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
