"""status against fakes: legacy rows, each importer's figures and lag; a service down is shown, not fatal."""

from __future__ import annotations

from typing import Any

from algoitny_migration.service_layer.status import collect_status
from algoitny_shared.legacy.api import LegacyImportStatus, TableImportStatus


class Sources:
    def legacy_counts(self) -> dict[str, int]:
        return {"users": 61, "usage_logs": 801, "task_results": 5}

    def connector_status(self) -> dict[str, Any] | None:
        return {"connector": {"state": "RUNNING"}, "tasks": [{"state": "RUNNING"}]}

    def slot_lag_bytes(self) -> int | None:
        return 1024

    async def import_status(self, service: str) -> Any:
        if service == "accounts":
            raise ConnectionError("accounts is down")
        return LegacyImportStatus(
            service=service,
            paused=service == "ratelimit",
            tables=[
                TableImportStatus(table="users", imported=60, quarantined=1),
                TableImportStatus(table="usage_logs", imported=800, deleted=2, quarantined=1),
            ],
        )

    async def consumer_lag(self, service: str, table: str) -> int | None:
        return 7 if table == "usage_logs" else 0


async def test_status_per_table_and_importer() -> None:
    report = (await collect_status(Sources())).as_dict()
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["users"]["legacy_rows"] == 61
    users = {i["service"]: i for i in tables["users"]["importers"]}
    assert "accounts is down" in users["accounts"]["error"]
    assert (users["ratelimit"]["imported"], users["ratelimit"]["quarantined"], users["ratelimit"]["paused"]) == (
        60,
        1,
        True,
    )
    usage = tables["usage_logs"]["importers"][0]
    assert (usage["imported"], usage["deleted"], usage["lag"]) == (800, 2, 7)
    assert tables["task_results"]["importers"] == [] and "unused" in tables["task_results"]["note"]
    assert report["connector"]["connector"]["state"] == "RUNNING" and report["slot_lag_bytes"] == 1024
