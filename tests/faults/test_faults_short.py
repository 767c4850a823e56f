"""Fault injection, short version (inside `make test`; `make faults` runs the full one).

One platform with two replicas of every service, its own moto, Kafka broker, an OpenSearch proxy
and a fake Gemini endpoint; under a steady mix of requests: one replica of each service in turn
is SIGKILLed and restarted (no client request may fail: the gateway spreads over the replicas
and retries elsewhere what never reached one or is idempotent; the load's clients do the same
over the two gateways, as the web app behind a load balancer), then the private broker is
stopped and restarted, OpenSearch is cut off and the LLM fails, each for a few seconds. After
each: every check of bench/faults/checks.py passes (accepted executions get verdicts, usage
counters match the log, test sets intact, the search index converges) and the platform serves again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from faults.suite import SERVICES, Fault, rig, run_fault

pytestmark = [pytest.mark.e2e, pytest.mark.long_file, pytest.mark.timeout(900)]

KILLS = [Fault(f"kill:{service}", 2.0) for service in SERVICES]
OUTAGES = [
    Fault("kafka", 5.0),
    Fault("opensearch", 5.0),
    Fault("llm", 5.0),
]


def test_platform_survives_short_faults_under_load(stack_env: dict[str, str]) -> None:
    results: list[dict[str, Any]] = []
    with rig(stack_env.get("ALGOITNY_OPENSEARCH_URL", "http://127.0.0.1:9200"), users=3, replicas=2) as r:
        for fault in KILLS:  # the killed replica restarts while the next fault runs: its sibling serves
            results.append(run_fault(r, fault, clients=3, before_s=1.0, after_s=2.0, wait_ready=False))
        r.platform.wait_ready(timeout_s=120)
        for fault in OUTAGES:
            results.append(run_fault(r, fault, clients=3, before_s=2.0, after_s=5.0))
    print(json.dumps([{k: v for k, v in res.items() if k != "checks"} for res in results]))
    failures = [
        (res["fault"], [c for c in res["checks"] if not c["ok"]], res["recovery_s"]) for res in results if not res["ok"]
    ]
    assert not failures, json.dumps(failures, indent=1)
    for res in results:
        assert res["requests_during"] + res["requests_after"] > 0, res
        assert res["requests_after"] > 0 and res["recovery_s"] is not None, res
        if res["fault"].startswith("kill:"):  # a second replica of everything: no client request fails
            assert res["failed_during"] == 0 and res["failed_after"] == 0, res
        # the request kinds untouched by a fault keep working through it
        if res["fault"] in ("llm", "kafka", "opensearch"):
            assert res["by_path_during"].get("problem", {}).get("failed", 0) == 0, res
        if res["fault"] == "opensearch":  # search answers 503 problem+json while OpenSearch is away, never 500
            assert "500" not in res["statuses_during"], res
