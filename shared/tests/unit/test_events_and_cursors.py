from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.settings import ServiceSettings, env_var_names
from algoitny_shared.tables import Index, TableSpec, outbox_table
from algoitny_shared.topics import PROBLEM_EVENTS


def _created() -> ProblemCreated:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return ProblemCreated(
        platform="baekjoon", problem_id="1000", title="A+B", status="completed", created_at=now, updated_at=now
    )


def test_envelope_round_trips_with_metadata() -> None:
    env = REGISTRY.envelope(_created(), producer="problems", aggregate_id="baekjoon/1000", aggregate_version=1)
    again = EventEnvelope.from_bytes(env.to_bytes())
    assert again == env
    assert again.event_type == "problems.ProblemCreated"
    assert again.schema_version == 1
    assert again.aggregate_type == "problem"
    assert again.key == b"baekjoon/1000"
    assert isinstance(again.event_id, uuid.UUID)
    assert REGISTRY.decode(again) == _created()


def test_envelope_rejects_unknown_fields_and_bad_versions() -> None:
    env = REGISTRY.envelope(_created(), producer="problems", aggregate_id="a", aggregate_version=1)
    data = env.model_dump(mode="json")
    with pytest.raises(ValidationError):
        EventEnvelope.model_validate({**data, "surprise": 1})
    with pytest.raises(ValidationError):
        EventEnvelope.model_validate({**data, "aggregate_version": 0})
    with pytest.raises(ValueError):
        EventEnvelope.from_bytes(b"\xff not json")


def test_registry_refuses_unknown_and_newer_schemas() -> None:
    env = REGISTRY.envelope(_created(), producer="problems", aggregate_id="a", aggregate_version=1)
    with pytest.raises(UnknownEventType):
        REGISTRY.decode(env.model_copy(update={"event_type": "problems.Nope"}))
    with pytest.raises(UnknownEventType):
        REGISTRY.decode(env.model_copy(update={"schema_version": 99}))
    assert REGISTRY.spec_for("problems.ProblemCreated").topic == PROBLEM_EVENTS


def test_registry_rejects_duplicate_registration() -> None:
    with pytest.raises(ValueError):
        REGISTRY.register("problems.ProblemCreated", version=1, topic=PROBLEM_EVENTS, aggregate_type="problem")(
            ProblemCreated
        )


def test_cursor_round_trip_and_tamper_detection() -> None:
    codec = CursorCodec("secret")
    cursor = codec.encode({"after": ["x", 3]}, scope="list:a")
    assert codec.decode(cursor, scope="list:a") == {"after": ["x", 3]}
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    for bad, scope in ((tampered, "list:a"), (cursor, "list:b"), ("!!!", "list:a"), ("", "list:a")):
        with pytest.raises(AppError) as err:
            codec.decode(bad, scope=scope)
        assert err.value.code is ErrorCode.INVALID_CURSOR
    with pytest.raises(AppError):
        CursorCodec("other-secret").decode(cursor, scope="list:a")


def test_table_specs_render_create_requests() -> None:
    spec = TableSpec(
        owner="svc",
        name="Things",
        hash_key="pk",
        range_key="sk",
        attributes={"pk": "S", "sk": "S", "kind": "S", "at": "N"},
        indexes=(Index("KindIndex", "kind", "at", "INCLUDE", ("title",)),),
        stream="NEW_IMAGE",
    )
    request = spec.create_request("ns")
    assert request["TableName"] == "ns-svc-Things"
    assert request["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (gsi,) = request["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "KindIndex"
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}
    assert request["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    outbox = outbox_table("x")
    assert outbox.ttl_attribute == "expires_at"
    assert outbox.indexes[0].name == "PendingIndex"


def test_settings_parse_fault_points_and_list_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGOITNY_FAULT_POINTS", "crash_after_commit, other")
    monkeypatch.setenv("ALGOITNY_AWS_ENDPOINT_URL", "")
    settings = ServiceSettings()
    assert settings.fault_points == frozenset({"crash_after_commit", "other"})
    assert settings.aws_endpoint_url is None
    assert "ALGOITNY_KAFKA_BOOTSTRAP_SERVERS" in env_var_names(ServiceSettings)


def test_settings_reject_bad_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGOITNY_NAMESPACE", "Bad Namespace!")
    with pytest.raises(ValidationError):
        ServiceSettings()
