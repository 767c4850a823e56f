from __future__ import annotations

from pydantic import Field

from algoitny_shared.settings import ServiceSettings


class StatsSettings(ServiceSettings):
    service_name: str = "stats"
    port: int = 8007
    stats_batch_max_records: int = Field(
        default=500, ge=1, le=5000, description="Messages the stats consumer polls and applies per batch."
    )
    lag_poll_interval_s: float = Field(
        default=10.0, ge=0, description="How often consumer lag is measured for /metrics (0: never)."
    )
