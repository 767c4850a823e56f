"""One trace from an HTTP request through the outbox, Kafka headers and a consumer (in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from algoitny_shared import tracing
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.http import create_app
from algoitny_shared.kafka import EventConsumer, EventPublisher
from algoitny_shared.logging import trace_id_var
from algoitny_shared.outbox import Outbox
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import outbox_table
from algoitny_shared.topics import PROBLEM_EVENTS


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, message: bytes, *, topic: str, key: Any = None, headers: Any = None) -> None:
        self.published.append({"message": message, "topic": topic, "key": key, "headers": headers})


@dataclass
class FakeRecord:
    topic: str = "ns.problems.events"
    partition: int = 0
    offset: int = 1


@dataclass
class FakeMessage:
    body: bytes
    headers: dict[str, str]
    raw_message: FakeRecord = field(default_factory=FakeRecord)


def _event() -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="baekjoon", problem_id="1000", title="A+B", status="completed", created_at=now, updated_at=now
    )
    return REGISTRY.envelope(payload, producer="problems", aggregate_id="baekjoon/1000", aggregate_version=1)


SETTINGS = ServiceSettings(namespace="ns", environment="test", consumer_retry_backoff_s=0)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(None)


async def test_request_outbox_kafka_and_consumer_share_one_trace(spans: InMemorySpanExporter) -> None:
    app = create_app(SETTINGS, title="t")
    outbox = Outbox(client=None, spec=outbox_table("problems"), namespace="ns")
    stored: dict[str, Any] = {}
    logged: dict[str, str | None] = {}

    @app.post("/things")
    async def things() -> dict[str, str]:
        stored.update(outbox.put_request(_event())["Put"]["Item"])
        logged["request"] = trace_id_var.get()
        return {"ok": "yes"}

    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/things", headers={"traceparent": caller})).status_code == 200

    # the outbox item keeps the request's context; the relay publishes under a child PRODUCER span
    traceparent = stored["traceparent"]["S"]
    broker = FakeBroker()
    publisher = EventPublisher(broker, SETTINGS)  # type: ignore[arg-type]
    publisher._producer = broker  # type: ignore[assignment]
    with tracing.producer_span(traceparent, "ns.problems.events", "problems.ProblemCreated", "e1"):
        await publisher.publish(_event(), "ns.problems.events")
    headers = broker.published[0]["headers"]
    assert headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"

    async def handler(envelope: Any, payload: Any) -> None:
        logged["consumer"] = trace_id_var.get()

    consumer = EventConsumer(
        broker=FakeBroker(),  # type: ignore[arg-type]
        settings=SETTINGS,
        group="search-indexer",
        topics=[PROBLEM_EVENTS],
        handlers={"problems.ProblemCreated": handler},
    )
    assert await consumer.process(FakeMessage(_event().to_bytes(), headers)) == "processed"

    finished = {s.kind: s for s in spans.get_finished_spans()}
    server, producer, consumed = finished[SpanKind.SERVER], finished[SpanKind.PRODUCER], finished[SpanKind.CONSUMER]
    trace_id = int("0af7651916cd43dd8448eb211c80319c", 16)
    assert {server.context.trace_id, producer.context.trace_id, consumed.context.trace_id} == {trace_id}
    assert server.name == "POST /things" and server.parent is not None
    assert producer.parent is not None and producer.parent.span_id == server.context.span_id
    assert consumed.parent is not None and consumed.parent.span_id == producer.context.span_id
    # the JSON logs carry the OpenTelemetry trace id, in the request and in the consumer
    assert logged == {"request": format(trace_id, "032x"), "consumer": format(trace_id, "032x")}


async def test_a_public_app_starts_its_own_trace_and_links_the_clients(spans: InMemorySpanExporter) -> None:
    app = create_app(SETTINGS, title="t", trust_traceparent=False)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        await client.get("/healthz", headers={"traceparent": caller})
    (server,) = spans.get_finished_spans()
    assert server.parent is None
    assert server.context.trace_id != int("0af7651916cd43dd8448eb211c80319c", 16)
    assert [link.context.trace_id for link in server.links] == [int("0af7651916cd43dd8448eb211c80319c", 16)]


async def test_without_an_exporter_nothing_is_recorded_but_ids_travel() -> None:
    tracing.use_provider(None)
    provider = tracing.configure_tracing(SETTINGS)
    try:
        with tracing.server_span("GET", {}) as span:
            assert not span.is_recording()
            parent = tracing.current_traceparent()
        assert parent is not None and int(parent.rsplit("-", 1)[1], 16) & 1 == 0  # a real id, not sampled
    finally:
        tracing.use_provider(None)
    assert provider is not None


async def test_without_an_exporter_a_trusted_callers_trace_is_joined_and_a_clients_is_not() -> None:
    """The unrecorded span (no exporter) keeps the rules of the recorded one: a service joins its
    caller's trace (the id in its logs and in what it sends on), the public app starts a new one."""
    tracing.use_provider(None)
    tracing.configure_tracing(SETTINGS)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    try:
        with tracing.server_span("GET", {"traceparent": caller}) as span:
            sent = tracing.current_traceparent()
            logged = trace_id_var.get()
        assert not span.is_recording()
        assert sent is not None and sent.split("-")[1] == "0af7651916cd43dd8448eb211c80319c" == logged
        assert sent.split("-")[2] != "b7ad6b7169203331"  # a span of its own
        with tracing.server_span("GET", {"traceparent": caller}, trust_parent=False):
            fresh = tracing.current_traceparent()
        assert fresh is not None and fresh.split("-")[1] not in ("0af7651916cd43dd8448eb211c80319c", "0" * 32)
        with tracing.server_span("GET", {"traceparent": "garbage"}):
            own = tracing.current_traceparent()
        assert own is not None and own.split("-")[1] != "0" * 32
    finally:
        tracing.use_provider(None)
