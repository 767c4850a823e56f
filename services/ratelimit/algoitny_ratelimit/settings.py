from __future__ import annotations

from algoitny_shared.settings import ServiceSettings


class RatelimitSettings(ServiceSettings):
    service_name: str = "ratelimit"
    port: int = 8004
