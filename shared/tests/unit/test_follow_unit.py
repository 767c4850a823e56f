"""The shared topic follower and the one dead-letter path, without a broker: records before a
partition's start are never passed on, "caught up" means every partition reached the end offsets
seen on start, and a batch consumer's record is dead-lettered verbatim with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from algoitny_shared.follow import PartitionReader, Record, TopicFollower
from algoitny_shared.kafka import DLQ_HEADERS, dead_letter


@dataclass
class ClientRecord:
    partition: int
    offset: int
    value: bytes | None = b"v"
    key: bytes | None = b"k"
    timestamp: int = 0
    topic: str = "ns.accounts.events"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


async def test_records_before_the_start_are_dropped_and_positions_advance() -> None:
    got: list[Record] = []

    async def on_batch(records: list[Record]) -> None:
        got.extend(records)

    reader = PartitionReader("unused:9092", "t", on_batch, name="unit")
    reader.positions = {0: 5, 1: 0}
    # Fetched before the seek took effect: offsets 3 and 4 of partition 0 are not ours.
    await reader._receive((*(ClientRecord(0, o) for o in (3, 4, 5, 6)), ClientRecord(1, 0)))
    assert [(r.partition, r.offset) for r in got] == [(0, 5), (0, 6), (1, 0)]
    assert reader.positions == {0: 7, 1: 1}
    assert not reader.reached({0: 8, 1: 1})
    assert reader.reached({0: 7, 1: 1})
    await reader._receive(ClientRecord(0, 6))  # a redelivered record changes nothing
    assert len(got) == 3


async def test_the_follower_is_ready_only_once_it_read_what_was_there() -> None:
    applied: list[bytes] = []
    follower = TopicFollower("unused:9092", "t", applied.append, name="unit")
    reader = PartitionReader("unused:9092", "t", follower._on_batch, name="unit")
    reader.positions = {0: 0, 1: 0}
    follower._reader = reader
    follower._ends = {0: 2, 1: 1}
    await reader._receive((ClientRecord(0, 0, b"a"), ClientRecord(0, 1, None)))  # a tombstone is skipped
    assert applied == [b"a"] and not follower.caught_up.is_set()
    with pytest.raises(ConnectionError, match="has not caught up"):
        await follower.ready()
    await reader._receive(ClientRecord(1, 0, b"b"))
    assert follower.caught_up.is_set()
    await follower.ready()


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, message: bytes, topic: str, key: Any = None, headers: Any = None) -> None:
        self.published.append({"message": message, "topic": topic, "key": key, "headers": headers})


async def test_a_batch_record_is_dead_lettered_verbatim_with_its_reason() -> None:
    broker = FakeBroker()
    record = ClientRecord(
        2, 17, value=b"\x00garbage", key=b"u1", headers=[("traceparent", b"00-ab"), ("x-dlq-reason", b"old")]
    )
    await dead_letter(
        broker,  # type: ignore[arg-type]
        record,
        group="stats",
        topic="ns.stats.dlq",
        reason="undecodable",
        exc=ValueError("bad"),
    )
    [dead] = broker.published
    assert (dead["message"], dead["key"], dead["topic"]) == (b"\x00garbage", b"u1", "ns.stats.dlq")
    headers = dead["headers"]
    assert set(DLQ_HEADERS) <= set(headers)
    assert headers["traceparent"] == "00-ab"  # the original headers travel along
    assert headers["x-dlq-reason"] == "undecodable"  # and a previous dead-letter reason is replaced
    assert (headers["x-dlq-partition"], headers["x-dlq-offset"]) == ("2", "17")
    assert headers["x-dlq-source-topic"] == "ns.accounts.events"
    assert headers["x-dlq-error"] == "ValueError: bad"
