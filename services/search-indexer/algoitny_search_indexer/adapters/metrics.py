"""Prometheus metrics of the search index (the indexer's own; dashboards and alerts name them)."""

from __future__ import annotations

from prometheus_client import Gauge

SEARCH_LAST_EVENT_TIME = Gauge(
    "algoitny_search_last_indexed_event_timestamp_seconds",
    "When the newest problem event applied to the search index occurred (Unix time)",
)
SEARCH_INDEX_DELAY = Gauge(
    "algoitny_search_index_delay_seconds",
    "Index freshness: time from the last applied problem event's occurrence to its write into the index",
)
SEARCH_REINDEX_DOCUMENTS = Gauge(
    "algoitny_search_reindex_documents", "Documents written into the new index by the last rebuild", ["source"]
)
