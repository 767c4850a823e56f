"""``algoitny-stats``: serve the API and consume events, or rebuild the statistics by replay.

python -m algoitny_stats serve
python -m algoitny_stats rebuild [--drop-old]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from typing import Any

from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve
from algoitny_stats.settings import StatsSettings


async def rebuild(settings: StatsSettings, drop_old: bool) -> dict[str, Any]:
    from algoitny_shared.replay import TopicReplayer
    from algoitny_stats.bootstrap import STATS_TOPICS, build
    from algoitny_stats.service_layer.rebuild import Rebuilder

    c = build(settings)
    replayers = [TopicReplayer(settings.kafka_bootstrap_servers, t.physical(settings.namespace)) for t in STATS_TOPICS]
    try:
        for replayer in replayers:
            await replayer.start()
        report = await Rebuilder(c.store, c.applier).run(list(replayers))
        result = dataclasses.asdict(report)
        if drop_old:
            result["dropped_items"] = await c.store.drop_generation(report.previous_generation)
        return result
    finally:
        for replayer in replayers:
            await replayer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-stats")
    parser.add_argument("command", choices=["serve", "rebuild"], nargs="?", default="serve")
    parser.add_argument("--drop-old", action="store_true", help="rebuild: delete the previous generation's items")
    args = parser.parse_args(argv)
    settings = StatsSettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "rebuild":
        print(json.dumps(asyncio.run(rebuild(settings, args.drop_old)), default=str))
        return
    from algoitny_stats.bootstrap import build
    from algoitny_stats.entrypoints.http import make_app

    serve(make_app(build(settings)), settings)


if __name__ == "__main__":
    main()
