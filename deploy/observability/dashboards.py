"""One Grafana dashboard per area, written to deploy/observability/dashboards/<area>.json.

    python deploy/observability/dashboards.py write   # make dashboards
    python deploy/observability/dashboards.py check   # fails when a file is stale

Every query names only metrics the code defines (tests/unit/test_observability.py checks it).
Import the files into Grafana (or a dashboards ConfigMap of the Grafana sidecar); the data source
is the ``DS_PROMETHEUS`` input chosen at import.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"

Panel = tuple[str, str, str]  # title, PromQL, unit

AREAS: dict[str, tuple[str, list[Panel]]] = {
    "http": (
        "AlgoItny / HTTP",
        [
            ("Requests/s by service", "sum by (service) (rate(algoitny_http_requests_total[5m]))", "reqps"),
            (
                "5xx share by service",
                'sum by (service) (rate(algoitny_http_requests_total{status=~"5.."}[5m])) '
                "/ sum by (service) (rate(algoitny_http_requests_total[5m]))",
                "percentunit",
            ),
            (
                "4xx/s by service and route",
                'sum by (service, route) (rate(algoitny_http_requests_total{status=~"4.."}[5m]))',
                "reqps",
            ),
            (
                "p99 latency by service",
                "histogram_quantile(0.99, sum by (service, le) (rate(algoitny_http_request_seconds_bucket[5m])))",
                "s",
            ),
            (
                "p99 latency by route",
                "histogram_quantile(0.99, "
                "sum by (service, route, le) (rate(algoitny_http_request_seconds_bucket[5m])))",
                "s",
            ),
        ],
    ),
    "events": (
        "AlgoItny / Events and outboxes",
        [
            ("Published/s by type", "sum by (event_type) (rate(algoitny_events_published_total[5m]))", "ops"),
            (
                "Consumed/s by consumer and outcome",
                "sum by (consumer, outcome) (rate(algoitny_events_consumed_total[5m]))",
                "ops",
            ),
            (
                "Dead-lettered (15 min) by consumer",
                'sum by (consumer) (increase(algoitny_events_consumed_total{outcome="dead_lettered"}[15m]))',
                "short",
            ),
            ("Consumer lag (messages)", "sum by (consumer, topic) (algoitny_consumer_lag_messages)", "short"),
            (
                "Event age at handling p95 by consumer",
                "histogram_quantile(0.95, sum by (consumer, le) (rate(algoitny_event_age_seconds_bucket[5m])))",
                "s",
            ),
            ("Outbox pending by service", "max by (service) (algoitny_outbox_pending)", "short"),
            ("Handler retries/s", "sum by (consumer) (rate(algoitny_event_handler_retries_total[5m]))", "ops"),
        ],
    ),
    "judge": (
        "AlgoItny / Judge",
        [
            (
                "Queue wait p95 (submitted to taken)",
                "histogram_quantile(0.95, "
                'sum by (le) (rate(algoitny_event_age_seconds_bucket{consumer="judge-workers"}[5m])))',
                "s",
            ),
            (
                "Jobs taken/s",
                'sum(rate(algoitny_events_consumed_total{consumer="judge-workers",outcome="processed"}[5m]))',
                "ops",
            ),
            (
                "Executions completed/s",
                'sum(rate(algoitny_events_published_total{event_type="executions.ExecutionCompleted"}[5m]))',
                "ops",
            ),
            (
                "Custom runs: 503 (judge busy)/s",
                'sum(rate(algoitny_http_requests_total{service="executions",route="/runs",status="503"}[5m]))',
                "reqps",
            ),
        ],
    ),
    "quota": (
        "AlgoItny / Quotas",
        [
            (
                "Charges and refunds/s",
                'sum by (event_type) (rate(algoitny_events_published_total{event_type=~"ratelimit.Usage.*"}[5m]))',
                "ops",
            ),
            (
                "Refund share",
                'sum(rate(algoitny_events_published_total{event_type="ratelimit.UsageRefunded"}[15m])) '
                '/ sum(rate(algoitny_events_published_total{event_type="ratelimit.UsageConsumed"}[15m]))',
                "percentunit",
            ),
            (
                "Quota refusals (429)/s by route",
                'sum by (route) (rate(algoitny_http_requests_total{service="gateway",status="429"}[5m]))',
                "reqps",
            ),
        ],
    ),
    "search": (
        "AlgoItny / Search",
        [
            ("Index delay", "max(algoitny_search_index_delay_seconds)", "s"),
            ("Newest indexed event age", "time() - max(algoitny_search_last_indexed_event_timestamp_seconds)", "s"),
            ("Indexer lag (messages)", 'sum(algoitny_consumer_lag_messages{consumer="search-indexer"})', "short"),
            ("Documents of the last rebuild", "max by (source) (algoitny_search_reindex_documents)", "short"),
            (
                "Search latency p99",
                "histogram_quantile(0.99, sum by (route, le) "
                '(rate(algoitny_http_request_seconds_bucket{service="search-indexer"}[5m])))',
                "s",
            ),
        ],
    ),
    "stats": (
        "AlgoItny / Statistics",
        [
            ("Apply delay", "max(algoitny_stats_apply_delay_seconds)", "s"),
            ("Newest applied event age", "time() - max(algoitny_stats_last_applied_event_timestamp_seconds)", "s"),
            ("Lag (messages)", 'sum by (topic) (algoitny_consumer_lag_messages{consumer="stats"})', "short"),
            ("Transactions/s by outcome", "sum by (outcome) (rate(algoitny_stats_transactions_total[5m]))", "ops"),
        ],
    ),
    "hints": (
        "AlgoItny / Hints and LLM",
        [
            ("Hint sets generated/s", "sum by (kind, source) (rate(algoitny_hints_generated_total[5m]))", "ops"),
            ("LLM calls/s by outcome", "sum by (model, outcome) (rate(algoitny_llm_calls_total[5m]))", "ops"),
            ("LLM tokens/s", "sum by (kind) (rate(algoitny_llm_tokens_total[5m]))", "short"),
            ("LLM cost (USD/day)", "sum(increase(algoitny_llm_cost_usd_total[1d]))", "currencyUSD"),
            ("Breaker open", "max(algoitny_llm_breaker_open)", "short"),
        ],
    ),
}


def dashboard(area: str) -> dict[str, Any]:
    title, panels = AREAS[area]
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus"}],
        "uid": f"algoitny-{area}",
        "title": title,
        "tags": ["algoitny"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [
            {
                "id": n + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                "gridPos": {"x": (n % 2) * 12, "y": (n // 2) * 8, "w": 12, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr, "legendFormat": "__auto"}],
            }
            for n, (panel_title, expr, unit) in enumerate(panels)
        ],
    }


def rendered() -> dict[Path, str]:
    return {OUT / f"{area}.json": json.dumps(dashboard(area), indent=2) + "\n" for area in AREAS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args(argv)
    stale = [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]
    if args.command == "write":
        OUT.mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.write_text(rendered()[path])
            print(f"wrote {path.name}")
        return 0
    if stale:
        print(f"stale dashboards (run make dashboards): {', '.join(p.name for p in stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
