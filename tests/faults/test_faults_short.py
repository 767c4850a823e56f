"""Fault injection, short version (inside `make test`; `make faults` runs the full one).

One platform with its own moto, Kafka broker, an OpenSearch proxy and a fake Gemini endpoint;
under a steady mix of requests: the executions service is SIGKILLed and restarted, the private
broker is stopped and restarted, OpenSearch is cut off and the LLM fails, each for a few
seconds. After each: every check of bench/faults/checks.py passes (accepted executions get
verdicts, usage counters match the log, test sets intact, the search index converges) and the
platform serves again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from faults.suite import Fault, rig, run_fault

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SHORT = [
    Fault("kill:executions", 2.0),
    Fault("kafka", 5.0),
    Fault("opensearch", 5.0),
    Fault("llm", 5.0),
]


def test_platform_survives_short_faults_under_load(stack_env: dict[str, str]) -> None:
    results: list[dict[str, Any]] = []
    with rig(stack_env.get("ALGOITNY_OPENSEARCH_URL", "http://127.0.0.1:9200"), users=3) as r:
        for fault in SHORT:
            results.append(run_fault(r, fault, clients=3, before_s=2.0, after_s=5.0))
    failures = [
        (res["fault"], [c for c in res["checks"] if not c["ok"]], res["recovery_s"]) for res in results if not res["ok"]
    ]
    assert not failures, json.dumps(failures, indent=1)
    for res in results:
        assert res["requests_during"] + res["requests_after"] > 0, res
        assert res["requests_after"] > 0 and res["recovery_s"] is not None, res
        # the request kinds untouched by a fault keep working through it
        if res["fault"] in ("llm", "kafka", "opensearch"):
            assert res["by_path_during"].get("problem", {}).get("failed", 0) == 0, res
        if res["fault"] == "opensearch":  # search answers 503 problem+json while OpenSearch is away, never 500
            assert "500" not in res["statuses_during"], res
