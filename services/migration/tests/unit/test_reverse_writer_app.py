"""The reverse writer's process is wired on the service kit: its routes and readiness checks."""

from __future__ import annotations

from algoitny_migration.entrypoints.reverse_writer import make_app
from algoitny_migration.settings import MigrationSettings


def test_the_reverse_writer_app_serves_its_status_and_is_ready_when_kafka_and_the_legacy_database_answer() -> None:
    app = make_app(MigrationSettings(environment="local"))
    paths = {getattr(r, "path", "") for r in app.routes}
    assert {"/reverse/status", "/healthz", "/readyz", "/metrics"} <= paths
    assert [check.__name__ for check in app.state.readiness] == ["kafka", "legacy_database"]
