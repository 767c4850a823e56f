"""Raw request-rate limits per client (token buckets) that protect the services.

Separate from daily quotas: these count every request of a client address in one
gateway process, refill continuously, and answer 429 with Retry-After when empty.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from algoitny_shared.errors import AppError, ErrorCode

MAX_CLIENTS = 50_000


class TokenBuckets:
    def __init__(self, per_minute: dict[str, int], clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = {name: (n, n / 60.0) for name, n in per_minute.items()}
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def take(self, rate_class: str, client: str) -> None:
        capacity, refill = self._rates[rate_class]
        now = self._clock()
        key = (rate_class, client)
        tokens, last = self._buckets.pop(key, (float(capacity), now))
        tokens = min(capacity, tokens + (now - last) * refill)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            retry = max(1, math.ceil((1 - tokens) / refill))
            raise AppError(
                ErrorCode.RATE_LIMITED,
                f"Too many {rate_class} requests from this client; retry in {retry} s",
                headers={"Retry-After": str(retry)},
                retry_after=retry,
            )
        self._buckets[key] = (tokens - 1, now)
        while len(self._buckets) > MAX_CLIENTS:  # forget the least recently seen clients
            self._buckets.popitem(last=False)
