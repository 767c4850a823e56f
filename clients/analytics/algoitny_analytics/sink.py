"""Following the topics into the Parquet store, on the client's at-least-once batch subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import Any

from algoitny_analytics.quarantine import Quarantine
from algoitny_analytics.store import ParquetStore
from algoitny_events import Event, make_broker, subscribe_batch

log = logging.getLogger("algoitny_analytics")


@dataclass(frozen=True)
class SinkConfig:
    bootstrap_servers: str
    namespace: str
    group: str
    root: str
    start: str = "earliest"
    max_records: int = 500


async def follow(config: SinkConfig, stop: asyncio.Event | None = None) -> ParquetStore:
    """Write every event of every domain topic to the store until ``stop`` is set (or SIGTERM)."""
    store = ParquetStore(config.root)
    log.info("analytics sink: %d events already stored under %s", len(store), config.root)
    broker = make_broker(config.bootstrap_servers, client_id=f"{config.namespace}.{config.group}")
    attach(broker, config, store, Quarantine(config.root))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await broker.start()
    print("analytics sink following", flush=True)
    try:
        await stop.wait()
    finally:
        await broker.stop()
    return store


def attach(broker: Any, config: SinkConfig, store: ParquetStore, quarantine: Quarantine) -> Any:
    """Subscribe the sink on ``broker``: new events to ``store``, messages it cannot decode to
    ``quarantine`` with the reason (the stream goes on; nothing is dropped unrecorded)."""

    async def handle(events: list[Event[Any]]) -> None:
        written = await store.write(events)
        log.info(
            "stored %d new events (%d in the batch; %d redelivered duplicates skipped so far)",
            written,
            len(events),
            pipeline.duplicates,
        )

    pipeline = subscribe_batch(
        broker,
        namespace=config.namespace,
        group=config.group,
        handler=handle,
        dedup=store,
        on_error=quarantine.record,
        start="latest" if config.start == "latest" else "earliest",
        max_records=config.max_records,
    )
    return pipeline
