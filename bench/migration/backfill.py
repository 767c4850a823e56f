"""Migration backfill throughput and live lag (issue 15).

A fresh legacy database of its own is seeded (``--scale medium`` by default), then the Debezium
connector is registered on a Connect worker while a legacy writer keeps inserting and updating
(as the running Django application would).

1. Backfill rows/s: the legacy rows / the time from registering the connector until every
   seeded row is in the legacy topics (the snapshot; Connect's own throughput here).
2. Lag legacy write -> legacy topic, p50/p99: for every change the writer commits while the
   backfill runs, the time from its commit until its record was read from its topic.
3. With ``--platform`` (a platform from ``make up`` with its importers, ``make legacy``): the
   rows/s until every importing service's ``/internal/legacy/status`` counts all rows (imported
   or quarantined), and the lag legacy write -> new platform (the row's import time,
   ``last_applied_at`` of its table, polled).

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
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

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
        topics = TopicState(settings.legacy_topic_prefix)
        t_register = time.time()
        m.register_connector()

        def snapshot_done(t: TopicState) -> bool:
            return all(len(t.rows.get(name, {})) >= n - 5 for name, n in counts.items() if name != "usage_logs") and (
                len(t.rows.get("usage_logs", {})) >= counts["usage_logs"] * 0.95
            )

        asyncio.run(topics.follow(KAFKA, snapshot_done, args.timeout_s))
        backfill_s = time.time() - t_register
        imported_s = asyncio.run(wait_imported(m, counts, args.timeout_s)) if args.platform else None
        writer.stop()
        # The writer's changes made while the backfill ran: commit -> read from the topic.
        lags = [
            (topics.seen_at[k] - w) * 1000
            for k, w in writer.write_times.items()
            if k in topics.seen_at and w >= t_register and topics.seen_at[k] >= w
        ]
        result: dict[str, Any] = {
            "scale": args.scale,
            "legacy_rows": counts,
            "legacy_rows_total": total,
            "seed_s": round(seed_s, 2),
            "backfill_to_topics_s": round(backfill_s, 2),
            "backfill_rows_per_s": round(total / backfill_s, 1),
            "writer_changes": writer.ops,
            "lag_legacy_write_to_topic_ms": summary(lags, count=True),
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
