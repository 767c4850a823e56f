from __future__ import annotations

from algoitny_shared.settings import ServiceSettings


class StatsSettings(ServiceSettings):
    service_name: str = "stats"
    port: int = 8007
