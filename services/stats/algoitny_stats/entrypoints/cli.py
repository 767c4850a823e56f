"""``algoitny-stats``: serve the API and consume events, or rebuild the statistics by replay.

python -m algoitny_stats serve
python -m algoitny_stats rebuild [--drop-old]
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from algoitny_shared.kit.cli import Command, service_cli
from algoitny_stats.bootstrap import build
from algoitny_stats.entrypoints.http import make_app
from algoitny_stats.settings import StatsSettings


async def rebuild(settings: StatsSettings, drop_old: bool) -> dict[str, Any]:
    from algoitny_shared.replay import TopicReplayer
    from algoitny_stats.bootstrap import STATS_TOPICS
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


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--drop-old", action="store_true", help="rebuild: delete the previous generation's items")


COMMANDS: dict[str, Command[StatsSettings]] = {
    "rebuild": Command(lambda settings, args: rebuild(settings, args.drop_old), "rebuild by replay")
}

main = service_cli("algoitny-stats", StatsSettings, make_app, build=build, commands=COMMANDS, arguments=arguments)

if __name__ == "__main__":
    main()
