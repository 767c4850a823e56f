"""The published client: its models are the registry's (same JSON Schemas), it decodes every
documented example, upcasts older versions, imports no platform code, and its subscribe helpers
deduplicate by event id and commit only after the handler returned (redelivery on failure)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

import algoitny_events as ae
from algoitny_events import _generated, decoding
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ExecutionCompleted, PlanDeleted

REPO = Path(__file__).resolve().parents[4]
PACKAGE = REPO / "clients" / "events" / "algoitny_events"


def test_every_model_has_the_registry_schema_version_topic_and_aggregate() -> None:
    specs = {s.event_type: s for s in REGISTRY}
    assert set(ae.EVENT_TYPES) == set(specs)
    for event_type, (version, model, topic, aggregate) in ae.EVENT_TYPES.items():
        spec = specs[event_type]
        assert (version, topic, aggregate) == (spec.schema_version, spec.topic.name, spec.aggregate_type)
        assert model.model_json_schema() == spec.payload_model.model_json_schema(), event_type
        assert model.model_config.get("frozen") and model.model_config.get("extra") == "ignore"


def test_the_envelope_has_the_platform_envelope_fields_and_types() -> None:
    ours = ae.Envelope.model_json_schema()["properties"]
    theirs = EventEnvelope.model_json_schema()["properties"]
    assert set(ours) == set(theirs)
    for name in theirs:
        strip = {"default"}
        assert {k: v for k, v in ours[name].items() if k not in strip} == {
            k: v for k, v in theirs[name].items() if k not in strip
        }, name


def test_the_package_imports_no_platform_code() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "algoitny_shared" not in text.replace("python -m algoitny_shared.event_contract", ""), path
        assert "import algoitny_" not in text.replace("import algoitny_events", ""), path
    code = (
        "import sys, algoitny_events; "
        "print(sorted(m for m in sys.modules if m.startswith('algoitny_') and not m.startswith('algoitny_events')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_documented_example_decodes_to_its_typed_model() -> None:
    for spec in REGISTRY:
        path = REPO / "docs" / "events" / f"{spec.event_type}.v{spec.schema_version}.json"
        example = json.loads(path.read_text())["examples"][0]
        event = ae.decode(json.dumps(example).encode())
        assert type(event.payload).__name__ == spec.payload_model.__name__
        assert event.payload.model_dump(mode="json") == example["payload"]
        assert event.event_id == uuid.UUID(example["event_id"])


def _completed(**extra: Any) -> EventEnvelope:
    payload = ExecutionCompleted(
        execution_id="x1",
        user_id="u1",
        platform="codeforces",
        problem_id="1A",
        language="python3",
        verdict="AC",
        completed_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        **extra,
    )
    return REGISTRY.envelope(payload, producer="executions", aggregate_id="x1", aggregate_version=1)


def test_decode_typed_and_the_errors() -> None:
    envelope = _completed()
    event = ae.decode_as(envelope.to_bytes(), ae.ExecutionCompleted)
    assert event.payload.verdict == "AC" and event.aggregate_id == "x1"
    with pytest.raises(ae.UnknownEventType):
        ae.decode_as(envelope.to_bytes(), ae.UserRegistered)
    with pytest.raises(ae.NotAnEnvelope):
        ae.decode(b"not json")
    raw = json.loads(envelope.to_bytes())
    with pytest.raises(ae.UnknownEventType):
        ae.decode({**raw, "event_type": "nobody.Knows"})
    with pytest.raises(ae.NewerVersion):
        ae.decode({**raw, "schema_version": 99})
    with pytest.raises(ae.InvalidPayload):
        ae.decode({**raw, "payload": {"execution_id": "x1"}})
    # fields added by a newer producer are ignored, in the payload and in the envelope
    newer = {**raw, "new_envelope_field": 1, "payload": {**raw["payload"], "new_field": "x"}}
    assert ae.decode(newer).payload.execution_id == "x1"


def test_decode_upcasts_an_older_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if ExecutionCompleted were at v2 with an upcaster renaming ``verdict`` from ``result``."""

    def from_v1(payload: dict[str, Any]) -> dict[str, Any]:
        payload["verdict"] = payload.pop("result")
        return payload

    _, model, topic, aggregate = _generated.EVENT_TYPES["executions.ExecutionCompleted"]
    monkeypatch.setitem(decoding.EVENT_TYPES, "executions.ExecutionCompleted", (2, model, topic, aggregate))
    monkeypatch.setitem(decoding.UPCASTERS, ("executions.ExecutionCompleted", 1), from_v1)
    raw = json.loads(_completed().to_bytes())
    raw["payload"]["result"] = raw["payload"].pop("verdict")
    event = ae.decode({**raw, "schema_version": 1})
    assert event.payload.verdict == "AC"
    assert event.envelope.schema_version == 1  # as it travelled


async def test_deduplicators_remember_ids(tmp_path: Path) -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    for dedup in (ae.MemoryDeduplicator(capacity=10), ae.SqliteDeduplicator(tmp_path / "ids.db")):
        assert await dedup.seen(ids) == set()
        await dedup.remember(ids[:2])
        assert await dedup.seen(ids) == set(ids[:2])
    assert await ae.SqliteDeduplicator(tmp_path / "ids.db").seen(ids) == set(ids[:2])  # survives a restart
    small = ae.MemoryDeduplicator(capacity=2)
    await small.remember(ids)
    assert await small.seen(ids) == set(ids[1:])


def test_physical_topics_and_topics_for() -> None:
    assert ae.physical_topics("ns", ["executions.events"]) == ["ns.executions.events"]
    assert ae.topics_for(["executions.ExecutionCompleted", "accounts.UserRegistered"]) == [
        "accounts.events",
        "executions.events",
    ]
    with pytest.raises(ValueError):
        ae.physical_topics("ns", ["nope"])


async def test_subscribe_skips_duplicates_and_other_types_and_redelivers_after_a_failure() -> None:
    broker = ae.make_broker("127.0.0.1:9")
    seen: list[str] = []
    failures = {"left": 1}

    async def handler(event: ae.Event[Any]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("sink unavailable")
        seen.append(event.payload.execution_id)

    pipeline = ae.subscribe(
        broker,
        namespace="ns",
        group="g",
        handler=handler,
        event_types={"executions.ExecutionCompleted"},
        retry_backoff_s=0,
    )
    first, second = _completed(), _completed()
    other = REGISTRY.envelope(
        PlanDeleted(plan_id="p"),
        producer="ratelimit",
        aggregate_id="p",
        aggregate_version=1,
    )
    async with TestKafkaBroker(broker) as test:
        with pytest.raises(RuntimeError):
            await test.publish(first.to_bytes(), "ns.executions.events")
        assert seen == []  # not handled: not remembered, so a redelivery is handled
        await test.publish(first.to_bytes(), "ns.executions.events")  # the redelivery
        await test.publish(first.to_bytes(), "ns.executions.events")  # a duplicate
        await test.publish(second.to_bytes(), "ns.executions.events")
        await test.publish(other.to_bytes(), "ns.executions.events")  # not asked for
        await test.publish(b"garbage", "ns.executions.events")  # skipped, logged
    assert seen == ["x1", "x1"]  # two different events (ids), each once
    assert pipeline.handled == 2 and pipeline.duplicates == 1


async def test_subscribe_batch_hands_over_new_events_only() -> None:
    broker = ae.make_broker("127.0.0.1:9")
    batches: list[list[str]] = []

    async def handler(events: list[ae.Event[Any]]) -> None:
        batches.append([str(e.event_id) for e in events])

    ae.subscribe_batch(broker, namespace="ns", group="g", handler=handler, topics=["executions.events"])
    a, b = _completed(), _completed()
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(a.to_bytes(), a.to_bytes(), b.to_bytes(), topic="ns.executions.events")
        await test.publish_batch(b.to_bytes(), topic="ns.executions.events")
    assert batches == [[str(a.event_id), str(b.event_id)]]
