"""Test helpers that read or write Kafka topics directly (real broker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout_s: float = 20.0,
    match: Callable[[ConsumerRecord], bool] | None = None,
) -> list[ConsumerRecord]:
    """Records of ``topic`` from the beginning (those passing ``match``, if given), waiting
    until at least ``expect`` of them arrived or the timeout passed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + timeout_s
        while partitions is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} not found")
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord] = []
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(r for r in recs if match is None or match(r))
        return records
    finally:
        await consumer.stop()


async def produce(
    bootstrap: str, topic: str, value: bytes, key: bytes | None = None, headers: list | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


def desynchronise(producer: Any, topic: str) -> None:
    """Leave an idempotent aiokafka producer as a batch lost after it took its sequence number
    does (aiokafka never rewinds one): its next sequence on each partition of ``topic`` it wrote
    to is one past what the broker expects, so the broker refuses it as out of order."""
    manager = producer._txn_manager
    for tp in [tp for tp in manager._sequence_numbers if tp.topic == topic]:
        manager.increment_sequence_number(tp, 1)
