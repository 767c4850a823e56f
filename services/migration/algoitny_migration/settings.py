from __future__ import annotations

from pydantic import Field, SecretStr

from algoitny_shared.legacy.tables import DEFAULT_TOPIC_PREFIX
from algoitny_shared.settings import ServiceSettings, secret_field


class MigrationSettings(ServiceSettings):
    """Where the legacy database, Kafka Connect and the importing services are (``ALGOITNY_*``)."""

    service_name: str = "migration"
    legacy_dsn: SecretStr = Field(
        default=SecretStr("postgresql://algoitny:algoitny@127.0.0.1:5432/algoitny_legacy"),
        description="The legacy Django database (PostgreSQL). A real one: a role with REPLICATION.",
    )
    connect_url: str = Field(default="http://127.0.0.1:8083", description="Kafka Connect's REST API.")
    legacy_topic_prefix: str = Field(
        default=DEFAULT_TOPIC_PREFIX,
        pattern=r"^[a-z][a-z0-9_.-]{0,60}$",
        description="Debezium topic.prefix: topics are <prefix>.public.<table> (tests: <namespace>.legacy).",
    )
    legacy_connector_name: str = Field(default="", description="Connector name; empty: <namespace>-legacy-postgres.")
    legacy_slot_name: str = Field(
        default="", pattern=r"^[a-z0-9_]{0,63}$", description="Replication slot; empty: <namespace>_legacy."
    )
    legacy_publication_name: str = Field(
        default="", pattern=r"^[a-z0-9_]{0,63}$", description="Publication; empty: <namespace>_legacy_pub."
    )
    connect_topic_partitions: int = Field(
        default=3, ge=1, description="Partitions of the legacy topics Connect creates."
    )
    gateway_url: str = "http://127.0.0.1:8000"
    accounts_url: str = "http://127.0.0.1:8001"
    problems_url: str = "http://127.0.0.1:8002"
    executions_url: str = "http://127.0.0.1:8003"
    ratelimit_url: str = "http://127.0.0.1:8004"
    hints_url: str = "http://127.0.0.1:8006"
    stats_url: str = "http://127.0.0.1:8007"
    # The internal legacy API (status, digests, rows, quarantine, pause/resume): every service's
    # importer process serves it on a port of its own (devstack: base port + 100 + the service's offset).
    accounts_legacy_url: str = "http://127.0.0.1:8101"
    ratelimit_legacy_url: str = "http://127.0.0.1:8104"
    problems_legacy_url: str = "http://127.0.0.1:8102"
    executions_legacy_url: str = "http://127.0.0.1:8103"
    hints_legacy_url: str = "http://127.0.0.1:8106"
    http_timeout_s: float = Field(default=60.0, gt=0)
    # Cutover and rollback (issue 16).
    legacy_app_role: str = Field(
        default="algoitny",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The legacy application's PostgreSQL role: cutover makes its sessions read-only "
        "(default_transaction_read_only in the legacy database), rollback makes them writable again.",
    )
    cutover_window_s: float = Field(default=2.0, gt=0, description="Gates sample twice this far apart.")
    cutover_gate_timeout_s: float = Field(default=120.0, gt=0, description="A gate not met by then fails.")
    reverse_writer_port: int = Field(default=8108, description="The reverse writer's /healthz and /metrics.")
    reverse_writer_url: str = "http://127.0.0.1:8108"
    gateway_admin_token: SecretStr = secret_field(
        "local-admin-token",
        "The gateway's operator token: shadow reads admin and problem pages through the gateway with it.",
        optional=True,
    )
    reverse_lag_poll_s: float = Field(default=5.0, gt=0, description="How often /metrics' reverse lag is measured.")

    def reverse_group(self) -> str:
        """The reverse writer's consumer group (one per deployment)."""
        from algoitny_shared.topics import REVERSE_WRITER_GROUP

        return f"{self.namespace}.{REVERSE_WRITER_GROUP}"

    def connector_name(self) -> str:
        return self.legacy_connector_name or f"{self.namespace}-legacy-postgres"

    def slot_name(self) -> str:
        return self.legacy_slot_name or f"{self.namespace.replace('-', '_')}_legacy"

    def publication_name(self) -> str:
        return self.legacy_publication_name or f"{self.namespace.replace('-', '_')}_legacy_pub"
