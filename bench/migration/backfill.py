"""Migration backfill throughput and live lag (issue 15).

A fresh legacy database of its own is seeded (``--scale medium`` by default), then the Debezium
connector is registered on a Connect worker while a legacy writer keeps inserting and updating
(as the running Django application would).

1. Backfill rows/s: the legacy rows / the time from registering the connector until every
   seeded row has been read from the legacy topics by a consumer (the snapshot, as consumed).
2. Lag legacy write -> legacy topic (commit until the record was read), p50/p99: of the changes the
   writer commits while the backfill runs (Debezium streams them after the snapshot: they wait for
   its end), and of those it commits in the ``--stream-s`` seconds after (live streaming).
3. With ``--platform`` (a platform from ``make up`` with its importers, ``make legacy``): the
   rows/s until every importing service's ``/internal/legacy/status`` accounts for every row
   (imported or quarantined).

    .venv/bin/python bench/migration/backfill.py --scale medium
    .venv/bin/python bench/migration/backfill.py --scale small --platform
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

from benchkit import summary, write_result  # noqa: E402
from support.legacy_cdc import (  # noqa: E402
    ConnectWorker,
    LegacyWriter,
    TopicState,
    create_database,
    drop_database,
    legacy_stop,
    legacy_up,
)

KAFKA = "127.0.0.1:9092"


async def wait_imported(m: Any, counts: dict[str, int], timeout_s: float) -> float | None:
    """Seconds until every importing service accounts for every legacy row (None: not in time)."""
    from algoitny_shared.legacy.tables import LEGACY_TABLES

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        done = True
        for t in LEGACY_TABLES:
            for service in t.importers:
                try:
                    st = await m.platform.import_status(service)
                except Exception:
                    done = False
                    continue
                row = next((x for x in st.tables if x.table == t.name), None)
                if row is None or row.imported + row.quarantined < counts[t.name]:
                    done = False
        if done:
            return time.monotonic() - t0
        await asyncio.sleep(1.0)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="medium", choices=["small", "medium"])
    ap.add_argument("--writer-pause-s", type=float, default=0.02, help="pause between the writer's changes")
    ap.add_argument("--platform", action="store_true", help="also wait for the importers of a running platform")
    ap.add_argument("--timeout-s", type=float, default=1800)
    ap.add_argument("--stream-s", type=float, default=30, help="how long the writer goes on after the snapshot")
    args = ap.parse_args()

    from algoitny_migration.bootstrap import build
    from algoitny_migration.domain.legacy_data import SCALES, generate
    from algoitny_migration.settings import MigrationSettings

    started = legacy_up()
    ns = f"b{uuid.uuid4().hex[:8]}"
    db_name = f"legacy_{ns}"
    worker = None if args.platform else ConnectWorker(ns, KAFKA)
    dsn = create_database(db_name)
    settings = MigrationSettings(
        namespace=ns if worker else MigrationSettings().namespace,
        legacy_dsn=dsn,
        connect_url=worker.url if worker else MigrationSettings().connect_url,
        legacy_topic_prefix=f"{ns}.legacy" if worker else MigrationSettings().legacy_topic_prefix,
        legacy_connector_name=f"{ns}-legacy-postgres",
        legacy_slot_name=f"{ns}_legacy",
        legacy_publication_name=f"{ns}_legacy_pub",
        kafka_bootstrap_servers=KAFKA,
    )
    m = build(settings)
    try:
        if worker:
            worker.start()
        m.legacy.apply_schema()
        t0 = time.perf_counter()
        ds = generate(dataclasses.replace(SCALES[args.scale], hashed_users=min(8, SCALES[args.scale].hashed_users)))
        counts = m.legacy.load(ds)
        seed_s = time.perf_counter() - t0
        total = sum(counts.values())
        print(f"seeded {total} legacy rows in {seed_s:.1f} s: {counts}", flush=True)

        writer = LegacyWriter(dsn, seed=3)
        writer.start(args.writer_pause_s)
        topics = TopicState(settings.legacy_topic_prefix, keep_rows=False)
        t_register = time.time()
        m.register_connector()

        def snapshot_done(t: TopicState) -> bool:
            return all(len(t.rows.get(name, {})) >= n - 5 for name, n in counts.items() if name != "usage_logs") and (
                len(t.rows.get("usage_logs", {})) >= counts["usage_logs"] * 0.95
            )

        phase: dict[str, float] = {}

        def until(t: TopicState) -> bool:
            now = time.time()
            if "snapshot" not in phase:
                if snapshot_done(t):
                    phase["snapshot"] = now
                return False
            if now < phase["snapshot"] + args.stream_s:
                return False  # streaming: the writer goes on
            if "stopped" not in phase:
                writer.stop()
                phase["stopped"] = time.time()
            # Every change committed while streaming has arrived (a row deleted before the slot
            # existed never will: only changes after the snapshot are awaited).
            return all(
                k in t.seen_at and t.seen_at[k] >= w for k, w in writer.write_times.items() if w >= phase["snapshot"]
            )

        # One consumer from the start: the snapshot, then the live changes.
        asyncio.run(topics.follow(KAFKA, until, args.timeout_s))
        writer.stop()
        backfill_s = phase["snapshot"] - t_register
        imported_s = asyncio.run(wait_imported(m, counts, args.timeout_s)) if args.platform else None

        def lags(lo: float, hi: float) -> list[float]:
            """Commit -> read from the topic (ms) of the writer's changes committed in [lo, hi)."""
            return [
                (topics.seen_at[k] - w) * 1000
                for k, w in writer.write_times.items()
                if lo <= w < hi and k in topics.seen_at and topics.seen_at[k] >= w
            ]

        result: dict[str, Any] = {
            "scale": args.scale,
            "legacy_rows": counts,
            "legacy_rows_total": total,
            "seed_s": round(seed_s, 2),
            "backfill_to_topics_s": round(backfill_s, 2),
            "backfill_rows_per_s": round(total / backfill_s, 1),
            "writer_changes": writer.ops,
            # Debezium streams after the snapshot: a change made during the backfill waits for its end.
            "lag_write_to_topic_during_backfill_ms": summary(lags(t_register, phase["snapshot"]), count=True),
            "lag_write_to_topic_streaming_ms": summary(lags(phase["snapshot"], float("inf")), count=True),
            "connect_worker_start_s": [round(s, 1) for s in worker.started_s] if worker else None,
        }
        if args.platform:
            result["backfill_to_platform_s"] = round(imported_s, 2) if imported_s else None
            result["backfill_to_platform_rows_per_s"] = round(total / imported_s, 1) if imported_s else None
        write_result(f"migration_backfill_{args.scale}", result)
    finally:
        try:
            m.connect.delete(settings.connector_name())
        except Exception as exc:
            print(f"connector not deleted: {exc}", file=sys.stderr)
        asyncio.run(m.close())
        if worker:
            worker.stop()
        drop_database(db_name, settings.slot_name())
        legacy_stop(started)


if __name__ == "__main__":
    main()
