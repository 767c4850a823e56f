from __future__ import annotations

from algoitny_shared.settings import ServiceSettings


class ExecutionsSettings(ServiceSettings):
    service_name: str = "executions"
    port: int = 8003
