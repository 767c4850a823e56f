from __future__ import annotations

from algoitny_shared.settings import ServiceSettings


class ProblemsSettings(ServiceSettings):
    service_name: str = "problems"
    port: int = 8002
