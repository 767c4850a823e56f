"""The legacy migration contract: parsing Debezium records, identity, canonical digests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from algoitny_shared.legacy.canonical import COMPARED, canonical_row, row_digest
from algoitny_shared.legacy.changes import LegacyChangeError, parse_change
from algoitny_shared.legacy.identity import legacy_entropy, legacy_uuid
from algoitny_shared.legacy.rows import ROW_MODELS
from algoitny_shared.legacy.tables import BY_NAME, LEGACY_TABLES, tables_imported_by


def _problem(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": 7,
        "platform": "boj",
        "problem_id": "1000",
        "title": "두 수의 합 A+B",
        "tags": json.dumps(["math", "구현"]),
        "is_completed": True,
        "is_deleted": False,
        "metadata": json.dumps({"execution_count": 3}),
        "created_at": "2024-03-01T10:00:00.5Z",
        "__op": "c",
        "__lsn": 99,
        "__source_ts_ms": 1709287200500,
        "__deleted": "false",
    }
    row.update(over)
    return row


def test_a_snapshot_or_streamed_row_parses_with_its_json_columns_and_utc_times() -> None:
    change = parse_change("problems", b'{"id": 7}', json.dumps(_problem()))
    assert change is not None and change.key == "7" and change.op == "c" and not change.deleted
    assert change.position == 99 and change.source_ts_ms == 1709287200500
    row = change.typed().columns()
    assert row["tags"] == ["math", "구현"] and row["metadata"] == {"execution_count": 3}
    assert row["created_at"] == datetime(2024, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert not any(k.startswith("__") for k in row)


def test_a_delete_carries_its_key_and_a_tombstone_is_skipped() -> None:
    change = parse_change("problems", b'{"id": 7}', json.dumps({"id": 7, "__op": "d", "__deleted": "true"}))
    assert change is not None and change.deleted and change.key == "7"
    assert parse_change("problems", b'{"id": 7}', None) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"not json", "not JSON"), (b"[1]", "not a JSON object"), (b'{"title": "x"}', "no primary key")],
)
def test_records_that_are_not_changes_say_why(value: bytes, reason: str) -> None:
    with pytest.raises(LegacyChangeError, match=reason):
        parse_change("problems", None, value)


def test_bad_json_in_a_json_column_is_a_validation_error_naming_the_column() -> None:
    change = parse_change("problems", None, json.dumps(_problem(tags="[broken")))
    assert change is not None
    with pytest.raises(ValidationError, match="tags"):
        change.typed()


def test_identity_is_deterministic_per_table_and_key() -> None:
    assert legacy_uuid("users", 1) == legacy_uuid("users", "1") != legacy_uuid("problems", 1)
    assert legacy_entropy("search_history", 5) == legacy_entropy("search_history", 5)
    assert len(legacy_entropy("search_history", 5, 16)) == 16


def test_both_sides_hash_the_same_row_the_same_way() -> None:
    typed = parse_change("problems", None, json.dumps(_problem()))
    assert typed is not None
    from_topic = typed.typed().columns()
    seoul = timezone(timedelta(hours=9))
    from_sql = dict(from_topic, created_at=datetime(2024, 3, 1, 19, 0, 0, 500000, tzinfo=seoul), tags=["math", "구현"])
    assert row_digest("problems", "problems", from_topic) == row_digest("problems", "problems", from_sql)
    assert row_digest("problems", "problems", dict(from_sql, title="x")) != row_digest("problems", "problems", from_sql)


def test_users_compare_password_by_kind_not_by_hash() -> None:
    a = canonical_row("users", "accounts", {"id": 1, "password": "pbkdf2_sha256$600000$salt$hash"})
    b = canonical_row("users", "accounts", {"id": 1, "password_usable": True})
    google = canonical_row("users", "accounts", {"id": 2, "password": "!unusable"})
    assert a == b and google["password_usable"] is False


def test_every_imported_table_has_a_model_topic_and_compared_columns() -> None:
    for table in LEGACY_TABLES:
        assert table.name in ROW_MODELS and table.topic() == f"legacy.public.{table.name}"
        assert table.importers or table.not_imported_because
        for service in table.importers:
            columns = COMPARED[(table.name, service)]
            assert table.primary_key in columns
            fields = set(ROW_MODELS[table.name].model_fields) | {"password_usable"}
            assert set(columns) <= fields, (table.name, service)
    assert {t.name for t in tables_imported_by("ratelimit")} == {"subscription_plans", "users", "usage_logs"}
    assert BY_NAME["task_results"].importers == ()
