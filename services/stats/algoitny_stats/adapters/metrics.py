"""Prometheus metrics of the statistics (the stats service's own; dashboards and alerts name them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STATS_LAST_APPLIED_EVENT_TIME = Gauge(
    "algoitny_stats_last_applied_event_timestamp_seconds",
    "When the newest event applied to the statistics occurred (Unix time)",
)
STATS_APPLY_DELAY = Gauge(
    "algoitny_stats_apply_delay_seconds",
    "Statistics freshness: time from the last applied batch's oldest event to its commit",
)
STATS_BATCHES = Counter(
    "algoitny_stats_transactions_total", "Stats transactions by outcome (committed, retried)", ["outcome"]
)
