from __future__ import annotations

from algoitny_shared.settings import ServiceSettings


class SearchIndexerSettings(ServiceSettings):
    service_name: str = "search-indexer"
    port: int = 8005
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_timeout_s: float = 10.0
