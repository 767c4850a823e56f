from __future__ import annotations

from algoitny_shared.settings import ServiceSettings


class HintsSettings(ServiceSettings):
    service_name: str = "hints"
    port: int = 8006
