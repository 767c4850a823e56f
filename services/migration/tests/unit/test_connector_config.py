"""The Debezium connector config is the one MIGRATION.md promises the importers."""

from __future__ import annotations

import pytest

from algoitny_migration.adapters.connect import connector_config


def test_connector_config_is_the_contract() -> None:
    cfg = connector_config(
        dsn="postgresql://algoitny:pw@127.0.0.1:5433/algoitny_legacy",
        topic_prefix="t1.legacy",
        slot_name="t1_legacy",
        publication_name="t1_legacy_pub",
    )
    assert cfg["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert cfg["plugin.name"] == "pgoutput" and cfg["snapshot.mode"] == "initial"
    assert cfg["topic.prefix"] == "t1.legacy"
    assert cfg["table.include.list"].split(",") == [
        "public.subscription_plans",
        "public.users",
        "public.problems",
        "public.test_cases",
        "public.search_history",
        "public.usage_logs",
        "public.script_generation_jobs",
        "public.task_results",
    ]
    assert cfg["key.converter.schemas.enable"] == cfg["value.converter.schemas.enable"] == "false"
    assert cfg["transforms.unwrap.type"] == "io.debezium.transforms.ExtractNewRecordState"
    assert cfg["transforms.unwrap.delete.tombstone.handling.mode"] == "rewrite"
    assert cfg["transforms.unwrap.add.fields"] == "op,lsn,source.ts_ms"
    assert cfg["time.precision.mode"] == "adaptive_time_microseconds"
    assert cfg["decimal.handling.mode"] == "string"
    assert (cfg["database.port"], cfg["database.dbname"], cfg["database.user"]) == (
        "5433",
        "algoitny_legacy",
        "algoitny",
    )
    assert cfg["slot.name"] == "t1_legacy" and cfg["publication.name"] == "t1_legacy_pub"


def test_a_dsn_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(ValueError):
        connector_config(dsn="mysql://x@h/db", topic_prefix="p", slot_name="s", publication_name="p")
