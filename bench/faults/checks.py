"""Consistency checks run after each fault: a pluggable list.

A check is a function ``(ctx: CheckContext) -> CheckResult`` registered with ``@check("name")``;
it may poll (the platform converges asynchronously) within ``ctx.deadline``. Services added
later register their own, e.g. in bench/faults/checks_stats.py::

    from faults.checks import CheckContext, CheckResult, check

    @check("stats converge to executions")
    def stats_converge(ctx: CheckContext) -> CheckResult: ...

and list the module in ``CHECK_MODULES`` below (imported on first use).
"""

from __future__ import annotations

import importlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from algoitny_executions.adapters.tables import SEARCH_HISTORY

# Further check modules (each registers its checks on import), e.g. "faults.checks_stats".
from algoitny_problems.adapters.tables import PROBLEMS

# Further check modules (each registers its checks on import), e.g. "faults.checks_stats".
from algoitny_ratelimit.adapters.tables import USAGE_LOGS
from algoitny_shared.dynamo import dynamodb, from_item
from algoitny_shared.settings import ServiceSettings

# Further check modules (each registers its checks on import), e.g. "faults.checks_stats".
CHECK_MODULES: list[str] = ["faults.checks_stats"]


@dataclass
class CheckContext:
    namespace: str
    gateway: str
    opensearch_url: str
    admin_headers: dict[str, str]
    accepted_executions: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (id, owner's headers)
    created_problems: dict[tuple[str, str], int] = field(default_factory=dict)  # key -> test cases sent
    hint_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (execution id, headers)
    deadline: float = 0.0  # monotonic time by which asynchronous effects must have converged

    def dynamodb(self) -> Any:
        return dynamodb(ServiceSettings(namespace=self.namespace))

    def scan(self, table: str) -> list[dict[str, Any]]:
        client, items, kwargs = self.dynamodb(), [], {"TableName": table, "ConsistentRead": True}
        while True:
            resp = client.scan(**kwargs)
            items += [from_item(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0  # time it took to converge (polling checks)


Check = Callable[[CheckContext], CheckResult]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return register


def poll(ctx: CheckContext, name: str, probe: Callable[[], tuple[bool, str]], interval_s: float = 1.0) -> CheckResult:
    """Run ``probe`` until it passes or the deadline passes; the result says how long it took."""
    started = time.monotonic()
    while True:
        ok, detail = probe()
        if ok or time.monotonic() > ctx.deadline:
            return CheckResult(name, ok, detail, round(time.monotonic() - started, 1))
        time.sleep(interval_s)


def run_checks(ctx: CheckContext, only: list[str] | None = None) -> list[CheckResult]:
    for module in CHECK_MODULES:
        importlib.import_module(module)
    results = []
    for name, fn in CHECKS.items():
        if only and name not in only:
            continue
        try:
            results.append(fn(ctx))
        except Exception as exc:  # a broken check is a failed check, never a crashed suite
            results.append(CheckResult(name, False, f"check raised {exc!r}"))
    return results


# ---------------------------------------------------------------- the platform's own checks


@check("accepted executions reach a final verdict")
def executions_final(ctx: CheckContext) -> CheckResult:
    def probe() -> tuple[bool, str]:
        pending, missing = [], []
        with httpx.Client(base_url=ctx.gateway, timeout=10) as client:
            for eid, headers in ctx.accepted_executions:
                try:
                    resp = client.get(f"/api/v1/executions/{eid}", headers=headers)
                except httpx.HTTPError:
                    return False, "gateway unreachable"
                if resp.status_code == 404:
                    missing.append(eid)
                elif (
                    resp.status_code != 200
                    or resp.json().get("status") != "completed"
                    or not resp.json().get("verdict")
                ):
                    pending.append(eid)
        detail = f"{len(ctx.accepted_executions)} accepted, {len(pending)} not final, {len(missing)} lost"
        return not pending and not missing, detail

    return poll(ctx, "accepted executions reach a final verdict", probe, interval_s=2.0)


@check("execution records are not duplicated")
def executions_unique(ctx: CheckContext) -> CheckResult:
    items = ctx.scan(SEARCH_HISTORY.physical(ctx.namespace))
    ids = Counter(i.get("execution_id") for i in items)
    dupes = [k for k, n in ids.items() if n > 1]
    accepted = {eid for eid, _ in ctx.accepted_executions}
    stored = set(ids)
    lost = accepted - stored
    return CheckResult(
        "execution records are not duplicated",
        not dupes and not lost,
        f"{len(items)} records, {len(dupes)} duplicated ids, {len(lost)} accepted but not stored",
    )


@check("usage counters match the usage log (each charge applied once)")
def usage_consistent(ctx: CheckContext) -> CheckResult:
    items = ctx.scan(USAGE_LOGS.physical(ctx.namespace))
    counters: dict[tuple[str, str], int] = {}
    charges: dict[tuple[str, str], int] = defaultdict(int)
    logs: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    per_request: Counter[tuple[str, str, str, str]] = Counter()
    for item in items:
        pk, sk = item["pk"], item["sk"]
        if sk.startswith("COUNTER#"):
            counters[(pk, sk.split("#", 1)[1])] = int(item.get("used", 0))
        elif sk.startswith("REQ#"):
            _, action, _request = sk.split("#", 2)
            if not item.get("refunded_at"):
                charges[(pk, action)] += 1
        elif sk.startswith("LOG#"):
            action, request_id, kind = item["action"], item["request_id"], item["kind"]
            logs[(pk, action)][kind] += 1
            per_request[(pk, action, request_id, kind)] += 1
    bad = []
    for key in set(counters) | set(charges) | set(logs):
        used, charged = counters.get(key, 0), charges.get(key, 0)
        net = logs[key]["consume"] - logs[key]["refund"]
        if not (used == charged == net):
            bad.append(f"{key}: counter {used}, open charges {charged}, log net {net}")
    twice = [k for k, n in per_request.items() if n > 1]
    detail = f"{len(counters)} counters; {len(bad)} mismatched; {len(twice)} log entries applied twice"
    if bad:
        detail += "; e.g. " + "; ".join(bad[:3])
    return CheckResult("usage counters match the usage log (each charge applied once)", not bad and not twice, detail)


@check("created problems keep exactly their test sets")
def problems_intact(ctx: CheckContext) -> CheckResult:
    bad = []
    with httpx.Client(base_url=ctx.gateway, timeout=30) as client:
        for (platform, pid), count in ctx.created_problems.items():
            resp = client.get(
                f"/api/v1/problems/{platform}/{pid}", params={"include": "testcases"}, headers=ctx.admin_headers
            )
            if resp.status_code != 200:
                bad.append(f"{platform}/{pid}: {resp.status_code}")
                continue
            cases = resp.json().get("test_cases") or []
            inputs = [c.get("input") for c in cases]
            if len(cases) != count or len(set(inputs)) != len(inputs):
                bad.append(f"{platform}/{pid}: {len(cases)} cases ({len(set(inputs))} distinct), sent {count}")
    return CheckResult(
        "created problems keep exactly their test sets",
        not bad,
        f"{len(ctx.created_problems)} created; {len(bad)} wrong" + (f": {bad[:3]}" if bad else ""),
    )


@check("search index converges to the problems table")
def search_converges(ctx: CheckContext) -> CheckResult:
    alias = f"{ctx.namespace}-problems"

    def probe() -> tuple[bool, str]:
        table = {
            f"{p['platform']}/{p['problem_id']}": (p.get("title"), p.get("status"), int(p.get("test_case_count") or 0))
            for p in ctx.scan(PROBLEMS.physical(ctx.namespace))
            if not p.get("deleted_at") and p.get("status") != "deleted"
        }
        try:
            with httpx.Client(base_url=ctx.opensearch_url, timeout=10) as os_client:
                os_client.post(f"/{alias}/_refresh")
                resp = os_client.post(f"/{alias}/_search", json={"size": 10000, "query": {"match_all": {}}})
                resp.raise_for_status()
        except httpx.HTTPError as exc:
            return False, f"OpenSearch: {exc!r}"
        docs = {
            h["_source"]["key"]: (
                h["_source"].get("title"),
                h["_source"].get("status"),
                int(h["_source"].get("test_case_count") or 0),
            )
            for h in resp.json()["hits"]["hits"]
        }
        missing = sorted(set(table) - set(docs))
        extra = sorted(set(docs) - set(table))
        stale = sorted(k for k in set(table) & set(docs) if table[k] != docs[k])
        detail = (
            f"{len(table)} problems, {len(docs)} documents; "
            f"missing {len(missing)}, extra {len(extra)}, stale {len(stale)}"
        )
        return not missing and not extra and not stale, detail

    return poll(ctx, "search index converges to the problems table", probe)


@check("hint requests reach a final state")
def hints_final(ctx: CheckContext) -> CheckResult:
    def probe() -> tuple[bool, str]:
        pending = 0
        states: Counter[str] = Counter()
        with httpx.Client(base_url=ctx.gateway, timeout=10) as client:
            for eid, headers in ctx.hint_requests:
                try:
                    resp = client.get(f"/api/v1/executions/{eid}/hints", headers=headers)
                except httpx.HTTPError:
                    return False, "gateway unreachable"
                status = (
                    resp.json().get("status", str(resp.status_code))
                    if resp.status_code == 200
                    else str(resp.status_code)
                )
                states[status] += 1
                if status.split("/")[0] in ("pending", "generating", "queued") or resp.status_code >= 500:
                    pending += 1
        return pending == 0, f"{len(ctx.hint_requests)} requested; states {dict(states)}"

    return poll(ctx, "hint requests reach a final state", probe, interval_s=2.0)
