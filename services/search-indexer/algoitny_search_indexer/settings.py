from __future__ import annotations

from pydantic import Field

from algoitny_shared.settings import ServiceSettings


class SearchIndexerSettings(ServiceSettings):
    service_name: str = "search-indexer"
    port: int = 8005
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_timeout_s: float = 10.0
    problems_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The problems service, read by `reindex --source problems-service` (its list API).",
    )
    lag_poll_interval_s: float = Field(
        default=10.0, ge=0, description="How often consumer lag is measured for /metrics (0: never)."
    )
