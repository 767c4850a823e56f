"""Fault injection under steady load: the platform of one namespace with a private Kafka broker,
a cuttable proxy in front of OpenSearch and a fake Gemini endpoint, so every fault stays with
this platform (the shared Kafka, OpenSearch and moto are never stopped).

Faults:
* ``kill:<service>``  SIGKILL the service, wait, start it again;
* ``kafka``           stop the private broker (SIGTERM), wait, start it again on the same data;
* ``opensearch``      cut the proxy (connections refused and reset), wait, restore it;
* ``llm``             the fake Gemini answers 500 to everything, then recovers.

Each fault runs under the weighted mix (bench/load/workload.py plus problem creation and hint
requests). Reported per fault: requests and failures (no answer or 5xx) during the fault, time
to recover (from the end of the fault until every later request succeeds), and the consistency
checks (bench/faults/checks.py) on everything accepted during the run.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from benchkit import BENCH_TOKEN, Platform, bench_namespace, free_base_port, prepare, private_moto
from load.workload import API, Seed, drive, seed
from support.fake_gemini import OK, SERVER_ERROR, FakeGemini, serve_gemini

from faults.checks import CheckContext, run_checks
from faults.kafka_broker import PrivateKafka
from faults.proxy import TcpProxy

SERVICES = ["gateway", "accounts", "problems", "ratelimit", "executions", "search-indexer", "hints", "stats"]
FAULT_WEIGHTS = {
    "problem": 30,
    "search": 12,
    "history": 10,
    "usage": 8,
    "submit": 6,
    "create": 4,
    "hint": 3,
    "signin": 1,
}
WRONG = "print(0)\n"


@dataclass
class Fault:
    name: str
    seconds: float


@dataclass
class Rig:
    platform: Platform
    kafka: PrivateKafka
    proxy: TcpProxy
    gemini: FakeGemini
    opensearch_url: str
    data: Seed


def _wait_verdict(client: httpx.Client, eid: str, headers: dict[str, str], timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"{API}/executions/{eid}", headers=headers).json()
        if body.get("status") == "completed":
            return str(body.get("verdict"))
        time.sleep(0.3)
    raise TimeoutError(f"{eid}: no verdict in {timeout_s} s")


@contextmanager
def rig(opensearch_url: str = "http://127.0.0.1:9200", users: int = 4, replicas: int = 1) -> Iterator[Rig]:
    """Private Kafka + OpenSearch proxy + fake Gemini + the services (``replicas`` processes of each), seeded."""
    kafka = PrivateKafka()
    target = httpx.URL(opensearch_url)
    proxy = TcpProxy(target.host, target.port or 9200)
    gemini = FakeGemini()
    kafka.start()
    proxy.start()
    namespace = bench_namespace()
    env = {
        "ALGOITNY_ADMIN_TOKEN": BENCH_TOKEN,
        "ALGOITNY_LOG_LEVEL": "WARNING",
        "ALGOITNY_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "ALGOITNY_OPENSEARCH_URL": proxy.url,
        "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.5",
        "ALGOITNY_RATE_GENERAL_PER_MIN": "100000000",
        "ALGOITNY_RATE_EXECUTION_PER_MIN": "100000000",
        "ALGOITNY_RATE_SIGNIN_PER_MIN": "100000000",
        "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ADDRESS": "100000000",
        "ALGOITNY_JUDGE_UID_BASE": str(64700 + 16 * random.randrange(50)),  # apart from the tests' judges
        "ALGOITNY_GEMINI_API_KEY": "fault-key",
        "ALGOITNY_GEMINI_MODEL": "gemini-fault",
        "ALGOITNY_GEMINI_BACKOFF_S": "0.1",
        "ALGOITNY_GEMINI_BREAKER_RESET_S": "3",
    }
    plat = Platform(namespace=namespace, base_port=free_base_port(), env=env, replicas=replicas)
    try:
        with private_moto(), serve_gemini(gemini):
            plat.env["ALGOITNY_GEMINI_BASE_URL"] = gemini.url
            prepare(plat)
            plat.start_all(SERVICES)
            plat.wait_ready(timeout_s=240)  # every replica
            data = seed(plat.url("gateway"), BENCH_TOKEN, problems=8, cases=2, users=users)
            with httpx.Client(base_url=plat.url("gateway"), timeout=30) as client:
                for _user_id, headers in data.users:
                    platform, pid = data.problems[0]
                    body = {"platform": platform, "problem_id": pid, "language": "python3", "code": WRONG}
                    resp = client.post(f"{API}/executions", json=body, headers=headers)
                    assert resp.status_code == 202, resp.text
                    eid = resp.json()["execution_id"]
                    assert _wait_verdict(client, eid, headers) == "WA"
                    data.wrong_answers.append((eid, headers))
            yield Rig(plat, kafka, proxy, gemini, opensearch_url, data)
    finally:
        plat.stop_all()
        proxy.close()
        kafka.close()
        _drop_namespace(namespace, opensearch_url)


def _drop_namespace(namespace: str, opensearch_url: str) -> None:
    """The shared OpenSearch keeps this run's indices: give them back (the private moto and
    broker are gone with their processes)."""
    import contextlib

    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(f"{opensearch_url}/{namespace}-*", timeout=10)


def inject(r: Rig, fault: Fault, *, wait_ready: bool = True) -> float:
    """Apply the fault for ``fault.seconds``, undo it; returns the monotonic time it was undone.
    ``wait_ready=False``: a killed replica is started again but not waited for (its siblings serve;
    call ``r.platform.wait_ready()`` before a fault that needs every replica)."""
    kind, _, target = fault.name.partition(":")
    if kind == "kill":  # with replicas: the first one (the others go on serving)
        r.platform.kill(target)
        time.sleep(fault.seconds)
        ended = time.monotonic()
        r.platform.start(target)
        if wait_ready:
            r.platform.wait_ready([target], timeout_s=120)
        return ended
    if kind == "kafka":
        r.kafka.stop()
        time.sleep(fault.seconds)
        ended = time.monotonic()
        r.kafka.start()
        return ended
    if kind == "opensearch":
        r.proxy.cut()
        time.sleep(fault.seconds)
        r.proxy.restore()
        return time.monotonic()
    if kind == "llm":
        r.gemini.default = SERVER_ERROR
        time.sleep(fault.seconds)
        r.gemini.default = OK
        return time.monotonic()
    raise ValueError(fault.name)


def failed(status: int) -> bool:
    return status == 0 or status >= 500


def run_fault(
    r: Rig, fault: Fault, *, clients: int = 4, before_s: float = 3.0, after_s: float = 15.0, wait_ready: bool = True
) -> dict[str, Any]:
    """One fault under the mix; then the consistency checks on what the mix got accepted."""
    total = before_s + fault.seconds + after_s + 120  # the load stops when the observation ends (below)
    stop_flag = threading.Event()
    box: dict[str, Any] = {}

    def load() -> None:
        box["result"] = asyncio.run(
            drive(
                # every gateway replica: the clients fail over as behind a load balancer (see drive)
                r.platform.urls("gateway"),
                r.data,
                clients=clients,
                seconds=total,
                weights=FAULT_WEIGHTS,
                warmup_s=0.0,
                keep_body=lambda p: p in ("submit", "create", "hint"),
                timeout_s=15.0,
                stop=stop_flag,
                idempotency_keys=True,  # as the web app sends them
            )
        )

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    time.sleep(before_s)
    started = time.monotonic()
    ended = inject(r, fault, wait_ready=wait_ready)
    restored = time.monotonic()
    time.sleep(after_s)
    stop_flag.set()
    thread.join(timeout=60)
    samples = box["result"].samples
    during = [s for s in samples if started <= s.started <= ended]
    after = sorted((s for s in samples if s.started > ended), key=lambda s: s.started)
    last_failure = max((s.started + s.ms / 1000 for s in after if failed(s.status)), default=None)
    recovery_s = 0.0 if last_failure is None else round(last_failure - ended, 2)
    still_failing = bool(after) and failed(after[-1].status)
    ctx = CheckContext(
        namespace=r.platform.namespace,
        gateway=r.platform.url("gateway"),
        opensearch_url=r.opensearch_url,
        admin_headers=r.data.admin,
        deadline=time.monotonic() + 90,
    )
    for s in samples:
        if s.body is None or s.request is None:
            continue
        _method, url, kwargs = s.request
        if s.path == "submit":
            ctx.accepted_executions.append((s.body["execution_id"], kwargs["headers"]))
        elif s.path == "create":
            body = kwargs["json"]
            ctx.created_problems[(body["platform"], body["problem_id"])] = len(body["test_cases"])
        elif s.path == "hint":
            ctx.hint_requests.append((url.split("/")[-2], kwargs["headers"]))
    ctx.hint_requests = list(dict(ctx.hint_requests).items())  # one per execution (each has one owner)
    checks = run_checks(ctx)
    statuses: dict[str, int] = {}
    by_path: dict[str, dict[str, int]] = {}
    for s in during:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
        row = by_path.setdefault(s.path, {"requests": 0, "failed": 0})
        row["requests"] += 1
        row["failed"] += int(failed(s.status))
    return {
        "fault": fault.name,
        "fault_seconds": fault.seconds,
        "undo_seconds": round(restored - ended, 2),
        "clients": clients,
        "requests_during": len(during),
        "failed_during": sum(1 for s in during if failed(s.status)),
        "error_rate_during": round(sum(1 for s in during if failed(s.status)) / max(1, len(during)), 3),
        "by_path_during": by_path,
        "statuses_during": statuses,
        "requests_after": len(after),
        "failed_after": sum(1 for s in after if failed(s.status)),
        "recovery_s": None if still_failing else recovery_s,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "seconds": c.seconds} for c in checks],
        "ok": all(c.ok for c in checks) and not still_failing,
    }


def run_suite(faults: list[Fault], *, clients: int = 4, after_s: float = 15.0, replicas: int = 1) -> dict[str, Any]:
    results = []
    with rig(replicas=replicas) as r:
        for fault in faults:
            print(f"[faults] {fault.name} for {fault.seconds} s ...", flush=True)
            res = run_fault(r, fault, clients=clients, after_s=after_s)
            print(
                f"[faults] {fault.name}: {res['failed_during']}/{res['requests_during']} failed during, "
                f"recovery {res['recovery_s']} s, checks {'ok' if res['ok'] else 'FAILED'}",
                flush=True,
            )
            results.append(res)
    return {"run": uuid.uuid4().hex[:8], "replicas": replicas, "faults": results, "ok": all(r["ok"] for r in results)}


def table(report: dict[str, Any]) -> str:
    lines = [
        "| fault | s | requests during | failed during | error rate | recovery s | checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["faults"]:
        checks = "; ".join(f"{'ok' if c['ok'] else 'FAIL'}: {c['name']} ({c['detail']})" for c in r["checks"])
        lines.append(
            f"| {r['fault']} | {r['fault_seconds']} | {r['requests_during']} | {r['failed_during']} | "
            f"{r['error_rate_during']} | {r['recovery_s']} | {checks} |"
        )
    return "\n".join(lines)
