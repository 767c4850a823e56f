"""The shared "follow a topic outside any group" helper on the real broker: a follower reports
itself caught up only once it has read what the topic held when it started, then keeps
following; started from a moment, it skips what came before; a replay reads exactly a range;
the lag of a group comes from the offsets helper."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from support.kafka_tools import produce
from support.polling import eventually_async

from algoitny_shared.follow import TopicFollower
from algoitny_shared.kafka import ensure_topics
from algoitny_shared.lag import LagMonitor
from algoitny_shared.offsets import KafkaOffsets
from algoitny_shared.replay import TopicReplayer
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import TopicSpec

pytestmark = pytest.mark.integration


async def test_follow_catch_up_since_and_replay(provisioned: dict[str, Any]) -> None:
    settings = ServiceSettings(service_name="itest")
    bootstrap = settings.kafka_bootstrap_servers
    spec = TopicSpec(f"itest-follow-{uuid.uuid4().hex[:6]}.events", "test topic")
    await ensure_topics(settings, [spec])
    topic = spec.physical(settings.namespace)

    # Nothing yet: a follower is caught up at once.
    empty = TopicFollower(bootstrap, topic, lambda raw: None, name="itest-empty")
    runner = asyncio.create_task(empty.run())
    await asyncio.wait_for(empty.caught_up.wait(), 20)
    runner.cancel()

    old = [f"old-{i}".encode() for i in range(30)]
    for i, value in enumerate(old):
        await produce(bootstrap, topic, value, key=f"k{i}".encode())
    boundary = time.time() + 0.05
    await asyncio.sleep(0.1)  # the records' timestamps must fall after the boundary
    new = [f"new-{i}".encode() for i in range(5)]
    for i, value in enumerate(new):
        await produce(bootstrap, topic, value, key=f"k{i}".encode())

    seen: list[bytes] = []
    follower = TopicFollower(bootstrap, topic, seen.append, name="itest-all", max_records=7)
    since: list[bytes] = []
    recent = TopicFollower(bootstrap, topic, since.append, name="itest-since", since=lambda: boundary)
    tasks = [asyncio.create_task(follower.run()), asyncio.create_task(recent.run())]
    try:
        with pytest.raises(ConnectionError):  # not ready before it read what was there
            await follower.ready()
        await asyncio.wait_for(follower.caught_up.wait(), 20)
        await follower.ready()
        assert sorted(seen) == sorted(old + new)  # caught up means: everything there on start
        await asyncio.wait_for(recent.caught_up.wait(), 20)
        assert sorted(since) == sorted(new)  # nothing before the moment asked for

        await produce(bootstrap, topic, b"later", key=b"k1")  # and it keeps following
        await eventually_async(lambda: b"later" in seen and b"later" in since)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    replayer = TopicReplayer(bootstrap, topic, max_records=4)
    await replayer.start()
    try:
        starts = await replayer.beginning_offsets()
        ends = await replayer.end_offsets()
        assert sum(ends.values()) - sum(starts.values()) == len(old) + len(new) + 1
        everything = [v async for batch in replayer.read(starts, ends) for v in batch]
        assert sorted(everything) == sorted([*old, *new, b"later"])
        # A range: only what lies between the offsets, nothing after the snapshot.
        middle = {p: min(ends[p], starts[p] + 2) for p in starts}
        first = [v async for batch in replayer.read(starts, middle) for v in batch]
        assert len(first) == sum(middle[p] - starts[p] for p in starts)
        assert [v async for batch in replayer.read(ends, ends) for v in batch] == []
    finally:
        await replayer.stop()

    # A group that never committed lags by the whole topic; a topic not created yet by nothing.
    lag = await LagMonitor(bootstrap, topic, f"{settings.namespace}.nobody", "itest").measure()
    assert sum(lag.values()) == len(old) + len(new) + 1
    assert await LagMonitor(bootstrap, f"{topic}-missing", "g", "itest").measure() == {}
    async with KafkaOffsets(bootstrap) as offsets:  # what cutover's views gate reads: and whether it committed
        found = await offsets.lag(f"{settings.namespace}.nobody", topic)
        assert found is not None and found[1] is False and sum(found[0].values()) == len(old) + len(new) + 1
        assert await offsets.lag("g", f"{topic}-missing") is None
