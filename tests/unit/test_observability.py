"""deploy/observability: the alert rules and dashboards name only metrics the code's /metrics defines.

Every module that defines Prometheus metrics is imported (found by its prometheus_client import),
then each family's exposed sample names (counter ``_total``, histogram ``_bucket``/``_sum``/
``_count``, gauge as is) are the names a query may use. Also: the issue's alerts exist, each
rule is well formed, and the dashboards are what dashboards.py writes.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY
from support.scripts import load_script

REPO = Path(__file__).resolve().parents[2]
OBS = REPO / "deploy" / "observability"
dashboards = load_script("deploy/observability/dashboards.py")

METRIC = re.compile(r"\balgoitny_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "summary": ("_sum", "_count", ""),
}


def defined_metric_names() -> set[str]:
    roots = [REPO / "shared"] + [p for p in (REPO / "services").glob("*/algoitny_*") if p.is_dir()]
    for root in roots:
        for path in root.rglob("*.py"):
            if "tests" in path.parts or "prometheus_client import" not in path.read_text():
                continue
            package = [p for p in path.parents if p.name.startswith("algoitny_")][-1]
            importlib.import_module(".".join(path.relative_to(package.parent).with_suffix("").parts))
    names = set()
    for family in REGISTRY.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return {n for n in names if n.startswith("algoitny_")}


def alert_rules() -> list[dict]:
    doc = yaml.safe_load((OBS / "alerts.yaml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    out = []
    for path in sorted((OBS / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [t["expr"] for t in panel["targets"]]
    return out


def test_every_metric_used_is_defined_in_code() -> None:
    defined = defined_metric_names()
    assert "algoitny_http_requests_total" in defined and "algoitny_event_age_seconds_bucket" in defined
    exprs = [r["expr"] for r in alert_rules()] + dashboard_exprs()
    for expr in exprs:
        used = set(METRIC.findall(expr))
        assert used, f"no platform metric in {expr!r}"
        assert used <= defined, f"not defined in code: {sorted(used - defined)} in {expr!r}"


def test_the_issues_alerts_exist_and_are_well_formed() -> None:
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    for wanted in (
        "DeadLettersWritten",
        "ConsumerLagHigh",
        "OutboxNotDraining",
        "Http5xxRateHigh",
        "JudgeQueueWaitHigh",
        "QuotaRefundsHigh",
    ):
        assert wanted in names
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_one_dashboard_per_area_and_current() -> None:
    assert dashboards.main(["check"]) == 0, "run make dashboards"
    files = {p.stem for p in (OBS / "dashboards").glob("*.json")}
    assert files == set(dashboards.AREAS) >= {"http", "events", "judge", "quota", "search", "stats", "hints"}
