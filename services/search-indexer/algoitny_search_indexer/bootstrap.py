"""Composition root of the search indexer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from opensearchpy import AsyncOpenSearch

from algoitny_search_indexer.adapters.lag import LagMonitor
from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.service_layer.indexing import Indexer, SearchService
from algoitny_search_indexer.settings import SearchIndexerSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.kafka import EventConsumer, make_broker
from algoitny_shared.topics import PROBLEM_EVENTS, SEARCH_INDEXER_GROUP


@dataclass
class Container:
    settings: SearchIndexerSettings
    dynamodb: Any
    opensearch: AsyncOpenSearch
    broker: KafkaBroker
    index: ProblemIndex
    indexer: Indexer
    consumer: EventConsumer
    search: SearchService
    lag: LagMonitor


def build(settings: SearchIndexerSettings | None = None) -> Container:
    settings = settings or SearchIndexerSettings()
    client = dynamodb(settings)
    opensearch = AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=settings.opensearch_timeout_s)
    broker = make_broker(settings)
    index = ProblemIndex(opensearch, settings.namespace)
    indexer = Indexer(index)
    consumer = EventConsumer(
        broker=broker,
        settings=settings,
        group=SEARCH_INDEXER_GROUP,
        topics=[PROBLEM_EVENTS],
        handlers=indexer.handlers(),
        is_transient=indexer.is_transient,
    )
    if settings.consumers_enabled:
        consumer.register()
    search = SearchService(index, CursorCodec(settings.cursor_secret.get_secret_value()))
    lag = LagMonitor(
        settings.kafka_bootstrap_servers,
        PROBLEM_EVENTS.physical(settings.namespace),
        f"{settings.namespace}.{SEARCH_INDEXER_GROUP}",
        SEARCH_INDEXER_GROUP,
    )
    return Container(settings, client, opensearch, broker, index, indexer, consumer, search, lag)
