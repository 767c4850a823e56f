"""``python -m algoitny_analytics follow`` (make analytics), ``report --from --to``
(make analytics-report) and ``compact`` (make analytics-compact). Settings come from the environment:

ALGOITNY_KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092), ALGOITNY_NAMESPACE (algoitny),
ALGOITNY_ANALYTICS_DIR (.local/analytics), ALGOITNY_ANALYTICS_GROUP (analytics),
ALGOITNY_ANALYTICS_START (earliest | latest: where a new consumer group begins).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from algoitny_analytics.report import report
from algoitny_analytics.sink import SinkConfig, follow


def config_from_env() -> SinkConfig:
    env = os.environ
    return SinkConfig(
        bootstrap_servers=env.get("ALGOITNY_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        namespace=env.get("ALGOITNY_NAMESPACE", "algoitny"),
        group=env.get("ALGOITNY_ANALYTICS_GROUP", "analytics"),
        root=env.get("ALGOITNY_ANALYTICS_DIR", ".local/analytics"),
        start=env.get("ALGOITNY_ANALYTICS_START", "earliest"),
        max_records=int(env.get("ALGOITNY_ANALYTICS_BATCH_MAX_RECORDS", "500")),
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m algoitny_analytics")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("follow", help="follow every domain topic into Parquet files")
    sub.add_parser("compact", help="merge each partition's files into one (safe beside a running sink)")
    rep = sub.add_parser("report", help="print the report for a range of UTC days as JSON")
    today = datetime.now(UTC).date()
    rep.add_argument("--from", dest="start", type=_day, default=today - timedelta(days=29))
    rep.add_argument("--to", dest="end", type=_day, default=today)
    args = parser.parse_args(argv)
    config = config_from_env()
    if args.command == "follow":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        asyncio.run(follow(config))
        return 0
    if args.command == "compact":
        from algoitny_analytics.store import ParquetStore

        print(f"merged {ParquetStore(config.root).compact()} partitions")
        return 0
    if args.end < args.start:
        print("FROM must not be after TO", file=sys.stderr)
        return 2
    print(json.dumps(report(config.root, args.start, args.end), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
