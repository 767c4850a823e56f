"""``algoitny-search-indexer``: serve search and consume problem events, or rebuild the index.

python -m algoitny_search_indexer serve
python -m algoitny_search_indexer reindex [--source topic|problems-service] [--keep-old]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses

from algoitny_search_indexer.bootstrap import build
from algoitny_search_indexer.entrypoints.http import make_app
from algoitny_search_indexer.settings import SearchIndexerSettings
from algoitny_shared.kit.cli import Command, service_cli


async def reindex(settings: SearchIndexerSettings, source: str, keep_old: bool, grace_s: float) -> dict[str, object]:
    from opensearchpy import AsyncOpenSearch

    from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
    from algoitny_search_indexer.adapters.problems_client import ProblemsClient
    from algoitny_search_indexer.adapters.replay import TopicReplayer
    from algoitny_search_indexer.service_layer.rebuild import Rebuilder
    from algoitny_shared.identity import IdentitySigner
    from algoitny_shared.topics import PROBLEM_EVENTS

    client = AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=settings.opensearch_timeout_s)
    index = ProblemIndex(client, settings.namespace)
    replayer = TopicReplayer(settings.kafka_bootstrap_servers, PROBLEM_EVENTS.physical(settings.namespace))
    try:
        await index.ensure()
        rebuilder = Rebuilder(index)
        if source == "topic":
            await replayer.start()
            report = await rebuilder.from_topic(replayer)
        else:
            signer = IdentitySigner(settings.internal_secret.get_secret_value())
            problems = ProblemsClient(settings.problems_url, signer)
            try:
                try:
                    await replayer.start()
                    live: TopicReplayer | None = replayer
                except Exception:
                    live = None  # Kafka away: the scan alone
                report = await rebuilder.from_problems_service(problems, live)
            finally:
                await problems.close()
        if not keep_old and report.old_indices:
            await asyncio.sleep(grace_s)  # searches already routed to the old index finish first
            for old in report.old_indices:
                await index.drop(old)
        return dataclasses.asdict(report)
    finally:
        await replayer.stop()
        await client.close()


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=["topic", "problems-service"],
        default="topic",
        help="reindex from a replay of the problems topic (default) or the problems service's list API",
    )
    parser.add_argument("--keep-old", action="store_true", help="reindex: keep the previous physical index")
    parser.add_argument("--grace-s", type=float, default=5.0, help="reindex: wait before dropping the old index")


COMMANDS: dict[str, Command[SearchIndexerSettings]] = {
    "reindex": Command(
        lambda settings, args: reindex(settings, args.source, args.keep_old, args.grace_s),
        "rebuild the search index (from --source)",
    )
}


main = service_cli(
    "algoitny-search-indexer", SearchIndexerSettings, make_app, build=build, commands=COMMANDS, arguments=arguments
)

if __name__ == "__main__":
    main()
