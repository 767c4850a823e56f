from __future__ import annotations

from algoitny_shared.legacy.importer import LegacyImportSettings


class RatelimitSettings(LegacyImportSettings):
    service_name: str = "ratelimit"
    port: int = 8004
