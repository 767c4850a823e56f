"""The sliding window that limits sign-in attempts, estimated from two fixed-window counters.

A fixed window alone has two holes at its edge: a burst can spend the limit just before the edge
and again just after it, and a locked account opens the instant the window turns (a lock taken
a second before the edge lasted a second). So the previous window's count is carried into the
current one, weighted by the share of the previous window still inside the sliding window, and
rounded up so that a lock never lifts early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SlidingWindow:
    window_s: int

    def index(self, now: float) -> int:
        """The fixed window ``now`` falls in; counters are kept per fixed window."""
        return int(now // self.window_s)

    def _remaining(self, now: float) -> float:
        """Seconds of the current fixed window still to come: the share of the previous window
        that is still inside the sliding window, in seconds."""
        return (self.index(now) + 1) * self.window_s - now

    def carried(self, previous: int, now: float) -> int:
        """The previous window's attempts still counted at ``now``."""
        # Multiplied before dividing, so that whole seconds give exact shares (no 3.0000000004).
        return math.ceil(previous * self._remaining(now) / self.window_s)

    def room(self, limit: int, previous: int, now: float) -> int:
        """How many attempts the current fixed window may hold in all at ``now``."""
        return limit - self.carried(previous, now)

    def retry_after(self, limit: int, previous: int, current: int, now: float) -> int:
        """Whole seconds until one more attempt fits, for a scope with ``previous`` and ``current``
        attempts counted in the previous and current fixed windows."""
        end = (self.index(now) + 1) * self.window_s
        if current < limit:
            # Room comes back in this window, once the previous window's share has decayed to
            # ``limit - 1 - current`` attempts.
            opens = end - (limit - 1 - current) * self.window_s / previous if previous else now
        else:
            # This window is full by itself: in the next one it is carried, until it has decayed
            # to ``limit - 1`` attempts.
            opens = end + self.window_s - (limit - 1) * self.window_s / current
        return max(1, math.ceil(opens - now))
