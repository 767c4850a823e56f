"""Prometheus metrics of the machinery every service shares (HTTP, events, outbox, consumers,
upstreams), defined once. A service's own metrics live in the service (e.g. its adapters/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("algoitny_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "algoitny_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("algoitny_events_published_total", "Events published to Kafka", ["service", "event_type"])
EVENTS_CONSUMED = Counter(
    "algoitny_events_consumed_total",
    "Events seen by consumers, by outcome (processed, duplicate, skipped, dead_lettered)",
    ["consumer", "event_type", "outcome"],
)
EVENT_HANDLER_RETRIES = Counter("algoitny_event_handler_retries_total", "Handler retries", ["consumer"])
OUTBOX_PENDING = Gauge("algoitny_outbox_pending", "Unpublished outbox events seen by the last relay pass", ["service"])
EVENT_LAG_SECONDS = Histogram(
    "algoitny_event_age_seconds",
    "Time from an event's occurrence to its processing by a consumer",
    ["consumer"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge(
    "algoitny_consumer_lag_messages",
    "Messages of a topic partition not yet committed by a consumer group (end offset - committed offset)",
    ["consumer", "topic", "partition"],
)
UPSTREAM_RETRIES = Counter(
    "algoitny_upstream_retries_total",
    "Requests sent again to another replica of a service after one failed, by upstream and error",
    ["upstream", "error"],
)
