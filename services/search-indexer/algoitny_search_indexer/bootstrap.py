"""Composition root of the search indexer."""

from __future__ import annotations

from dataclasses import dataclass

from opensearchpy import AsyncOpenSearch

from algoitny_search_indexer.adapters.lag import LagMonitor
from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.service_layer.indexing import Indexer, SearchService
from algoitny_search_indexer.settings import SearchIndexerSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.kit.composition import EventParts, event_parts
from algoitny_shared.topics import PROBLEM_EVENTS, SEARCH_INDEXER_GROUP


@dataclass
class Container(EventParts[SearchIndexerSettings]):
    opensearch: AsyncOpenSearch
    index: ProblemIndex
    indexer: Indexer
    consumer: EventConsumer
    search: SearchService
    lag: LagMonitor


def build(settings: SearchIndexerSettings | None = None) -> Container:
    kit = event_parts(settings or SearchIndexerSettings())
    settings = kit.settings
    opensearch = AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=settings.opensearch_timeout_s)
    index = ProblemIndex(opensearch, settings.namespace)
    indexer = Indexer(index)
    consumer = kit.consume(
        SEARCH_INDEXER_GROUP,
        [PROBLEM_EVENTS],
        indexer.handlers(),
        is_transient=indexer.is_transient,
    )
    lag = LagMonitor(
        settings.kafka_bootstrap_servers,
        PROBLEM_EVENTS.physical(settings.namespace),
        f"{settings.namespace}.{SEARCH_INDEXER_GROUP}",
        SEARCH_INDEXER_GROUP,
    )
    return Container(
        **kit.fields(),
        opensearch=opensearch,
        index=index,
        indexer=indexer,
        consumer=consumer,
        search=SearchService(index, CursorCodec(settings.cursor_secret.get_secret_value())),
        lag=lag,
    )
