"""Distributed tracing with OpenTelemetry, written once for every service.

* HTTP: :class:`algoitny_shared.http.EdgeMiddleware` opens a SERVER span per request (child of
  the caller's W3C ``traceparent``; the public gateway starts a new trace and links the client's),
  and :func:`algoitny_shared.upstream.upstream_client` sends the current ``traceparent`` on.
* Kafka: the outbox stores the ``traceparent`` of the transaction that wrote an event; the relay
  publishes under a PRODUCER span that is its child, and the event carries that span's
  ``traceparent`` in its Kafka headers. Consumers open a CONSUMER span, child of it, around the
  handler; what the handler writes to its own outbox continues the same trace.
* Logs: ``trace_id`` in every JSON log line is the OpenTelemetry trace id.

Spans are exported over OTLP/HTTP when ``ALGOITNY_TRACING_OTLP_ENDPOINT`` is set. Otherwise the
sampler records nothing (near-zero cost) while trace ids are still made and propagated, so logs
of one request in several services share the id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from algoitny_shared.logging import trace_id_var
from algoitny_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_provider: TracerProvider | None = None


def configure_tracing(settings: ServiceSettings, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install this process's tracer provider (once; later calls return it). ``exporter`` (tests)
    takes the place of the OTLP exporter the settings would choose."""
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        if exporter is None and settings.tracing_otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=settings.tracing_otlp_endpoint, timeout=5)
        resource = Resource.create({"service.name": settings.service_name, "service.namespace": settings.namespace})
        sampler = ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)) if exporter else ALWAYS_OFF
        provider = TracerProvider(resource=resource, sampler=sampler)
        if exporter is not None:
            # Tests hand in an in-memory exporter: spans are there as soon as they end.
            in_memory = type(exporter).__name__ == "InMemorySpanExporter"
            provider.add_span_processor(SimpleSpanProcessor(exporter) if in_memory else BatchSpanProcessor(exporter))
            log.info("tracing: spans exported by %s", type(exporter).__name__)
        _provider = provider
        return provider


def use_provider(provider: TracerProvider | None) -> None:
    """Replace the process's provider (tests)."""
    global _provider
    with _lock:
        _provider = provider


def shutdown() -> None:
    """Export what is buffered (on a service's shutdown)."""
    if _provider is not None:
        _provider.shutdown()


_tracers: dict[int, tuple[Any, trace.Tracer]] = {}


def tracer() -> trace.Tracer:
    """The process's tracer (one per provider, made once: it is asked for on every request)."""
    provider = _provider if _provider is not None else trace.get_tracer_provider()
    found = _tracers.get(id(provider))
    if found is None or found[0] is not provider:
        found = (provider, provider.get_tracer("algoitny"))
        _tracers[id(provider)] = found
    return found[1]


def _trace_id(span: Span) -> str | None:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def _context_from(carrier: Mapping[str, str] | None) -> otel_context.Context:
    return _PROPAGATOR.extract(dict(carrier or {}))


def header_map(headers: Any) -> dict[str, str]:
    """The trace headers of a Kafka message (a dict, or aiokafka's list of (name, bytes) pairs)."""
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    found: dict[str, str] = {}
    for key, value in items:
        if key in (TRACEPARENT, TRACESTATE):
            found[key] = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return found


def inject_headers(headers: MutableMapping[str, str]) -> None:
    """Put the current span's ``traceparent`` (and ``tracestate``) into ``headers``. Without a
    current span the headers are left as they are."""
    if not trace.get_current_span().get_span_context().is_valid:
        return
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    for key, value in carrier.items():
        headers[key] = value


def current_traceparent() -> str | None:
    """The current span's ``traceparent`` (stored with outbox items), or None."""
    carrier: dict[str, str] = {}
    inject_headers(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def _activate(span: Span) -> Iterator[Span]:
    token = trace_id_var.set(_trace_id(span) or trace_id_var.get())
    try:
        with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
            yield span
    finally:
        trace_id_var.reset(token)


@contextmanager
def server_span(method: str, headers: Mapping[str, str], *, trust_parent: bool = True) -> Iterator[Span]:
    """A SERVER span for one HTTP request, current while the app handles it. ``trust_parent=False``
    (the public gateway) starts a new trace, linking a client's ``traceparent`` instead of joining it,
    so that no client decides what is sampled or which trace a request joins."""
    given = headers.get(TRACEPARENT)
    incoming = trace.get_current_span(_context_from({TRACEPARENT: given})) if given else trace.INVALID_SPAN
    remote = incoming.get_span_context()
    provider = _provider
    if provider is not None and provider.sampler is ALWAYS_OFF:
        # Nothing is recorded (no exporter): the span context the SDK would make (new ids, the
        # trusted caller's trace), without the SDK's span machinery on every request.
        joined = remote if remote.is_valid and trust_parent else None
        ids = provider.id_generator
        span: Span = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=joined.trace_id if joined else ids.generate_trace_id(),
                span_id=ids.generate_span_id(),
                is_remote=False,
                trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
                trace_state=joined.trace_state if joined else None,
            )
        )
        with _activate(span):
            yield span
        return
    parent = None
    links: Sequence[Link] = ()
    if remote.is_valid:
        if trust_parent:
            parent = trace.set_span_in_context(incoming)
        else:
            links = [Link(remote)]
    span = tracer().start_span(method, context=parent or otel_context.Context(), kind=SpanKind.SERVER, links=links)
    with _activate(span):
        yield span


def end_server_span(span: Span, method: str, route: str, status: int) -> None:
    span.update_name(f"{method} {route}")
    span.set_attribute("http.request.method", method)
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


@contextmanager
def producer_span(traceparent: str | None, topic: str, event_type: str, event_id: str) -> Iterator[Span]:
    """A PRODUCER span, child of the transaction that wrote the event (its stored ``traceparent``);
    what is published inside carries this span's context in its headers."""
    parent = _context_from({TRACEPARENT: traceparent} if traceparent else None)
    span = tracer().start_span(
        f"{topic} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            "algoitny.event_type": event_type,
        },
    )
    with _activate(span):
        yield span


@contextmanager
def consumer_span(headers: Any, topic: str, group: str, event_type: str, event_id: str) -> Iterator[Span]:
    """A CONSUMER span around handling one event, child of its PRODUCER span."""
    span = tracer().start_span(
        f"{topic} process",
        context=_context_from(header_map(headers)),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.message.id": event_id,
            "algoitny.event_type": event_type,
        },
    )
    with _activate(span):
        yield span


def record_consumed(
    headers: Any, topic: str, group: str, event_type: str, event_id: str, start_ns: int, end_ns: int
) -> None:
    """A finished CONSUMER span for an event applied within a batch (from ``start_ns`` to ``end_ns``),
    child of the event's PRODUCER span: a batch consumer's share of each event's trace."""
    span = tracer().start_span(
        f"{topic} process",
        context=_context_from(header_map(headers)),
        kind=SpanKind.CONSUMER,
        start_time=start_ns,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.message.id": event_id,
            "algoitny.event_type": event_type,
            "messaging.batch": True,
        },
    )
    span.end(end_time=end_ns)
