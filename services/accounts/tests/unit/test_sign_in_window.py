"""The sign-in throttle's sliding window: the rule alone, then the counters on an in-process
DynamoDB at a window's edge (where a fixed window let a lock lift, which CI once caught)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.inprocess import Store, in_process_dynamo

from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.domain.sign_in_window import SlidingWindow

W = 900
EDGE = 2_000 * W  # the start of a fixed window
LIMIT = 5


def _opens(window: SlidingWindow, limit: int, previous: int, current: int, at: float) -> bool:
    """Whether one more attempt fits at ``at``, for counts taken in ``at``'s or the prior window."""
    later = window.index(at) - window.index(EDGE + 1)
    if later == 0:  # still the window the counts were taken in
        return current < window.room(limit, previous, at)
    if later == 1:  # the next one: the current count is now carried
        return window.room(limit, current, at) > 0
    return True  # nothing reaches further


def test_a_lock_taken_before_the_edge_still_holds_after_it() -> None:
    window = SlidingWindow(W)
    assert window.carried(LIMIT, EDGE + 1) == LIMIT
    assert window.room(LIMIT, LIMIT, EDGE + 1) == 0
    # The previous window's share decays: a fifth of the way in, one of five has dropped out.
    assert window.room(LIMIT, LIMIT, EDGE + W // 5 - 1) == 0
    assert window.room(LIMIT, LIMIT, EDGE + W // 5) == 1
    assert window.room(LIMIT, 0, EDGE + 1) == LIMIT


def test_a_burst_straddling_the_edge_gets_no_second_limit() -> None:
    window = SlidingWindow(W)
    # Four failures just before the edge leave room for one just after it, not for five.
    assert window.room(LIMIT, 4, EDGE + 1) == 1


@pytest.mark.parametrize("limit", [1, 3, LIMIT])
def test_retry_after_is_the_first_whole_second_with_room(limit: int) -> None:
    window = SlidingWindow(W)
    checked = 0
    for previous in range(0, 2 * limit + 1):
        for current in range(0, limit + 1):
            for offset in (1, 37, 179, 450, 899):
                now = float(EDGE + offset)
                if current < window.room(limit, previous, now):
                    continue  # not full: nothing to wait for
                wait = window.retry_after(limit, previous, current, now)
                assert _opens(window, limit, previous, current, now + wait), (previous, current, offset, wait)
                if wait > 1:
                    assert not _opens(window, limit, previous, current, now + wait - 1), (previous, current, offset)
                assert wait <= 2 * W
                checked += 1
    assert checked > 20


def test_a_full_window_waits_into_the_next_one() -> None:
    window = SlidingWindow(W)
    # Five failures at a window's start: room comes back a fifth into the next window.
    assert window.retry_after(LIMIT, 0, LIMIT, EDGE + 1) == W + W // 5 - 1


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("accounts") as found:
        yield found


async def test_counters_keep_the_account_locked_across_the_edge(store: Store) -> None:
    attempts = SignInAttempts(store.client, store.namespace, W)
    limits = {"account": ("ann@example.com", LIMIT), "address": ("10.0.0.1", 50)}
    for i in range(LIMIT):
        assert await attempts.try_attempt(limits, EDGE - 5 + i * 0.5) is None
    assert await attempts.try_attempt(limits, EDGE - 1) is not None

    wait = await attempts.try_attempt({**limits, "address": ("10.0.0.2", 50)}, EDGE + 1)
    assert wait == W // 5 - 1  # locked past the edge, until a fifth of the five has decayed
    assert await attempts.try_attempt(limits, EDGE + W // 5 - 1) is not None
    assert await attempts.try_attempt(limits, EDGE + W // 5) is None
    assert await attempts.try_attempt(limits, EDGE + W // 5 + 1) is not None
    # The refused attempts took nothing from the address counters.
    assert await attempts.failures({"address": "10.0.0.1"}, EDGE + W // 5) == {"address": 1}
    assert await attempts.failures({"address": "10.0.0.2"}, EDGE + 1) == {"address": 0}


async def test_the_wait_covers_every_full_scope(store: Store) -> None:
    attempts = SignInAttempts(store.client, store.namespace, W)
    spray = ("10.0.0.9", 3)
    for i in range(3):
        limits = {"account": (f"u{i}@example.com", LIMIT), "address": spray}
        assert await attempts.try_attempt(limits, EDGE + 10) is None
    # The account has room; the address is full until a third of the next window has gone.
    wait = await attempts.try_attempt({"account": ("ann@example.com", LIMIT), "address": spray}, EDGE + 10)
    assert wait == W + W // 3 - 10
    assert await attempts.failures({"account": "ann@example.com"}, EDGE + 10) == {"account": 0}
