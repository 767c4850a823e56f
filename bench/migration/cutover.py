"""Cutover window, rollback and re-cutover at ``--scale medium`` (issue 16), on the real parts.

A platform of its own (a private namespace on free ports: every service, every legacy importer and
the reverse writer, on the shared Kafka, OpenSearch and moto), a legacy database of its own on the
shared PostgreSQL seeded at the scale asked, and a Connect worker of its own. Then the runbook's
phases, timed:

1. ``start`` (phase migrating), the connector registered: seconds until every importing service
   accounts for every legacy row (imported or quarantined), until the derived views (stats,
   search) have read every event the import published, and until a full ``verify`` passes;
2. ``cutover``: the gates (with verify) and the write window (legacy frozen until the platform
   takes writes);
3. users act on the platform (sign-ups, a plan change, a problem with test cases): the reverse
   writer writes them back;
4. ``rollback``: its gates and window; 5. ``cutover`` again (verify included).

    .venv/bin/python bench/migration/cutover.py --scale medium > /tmp/cutover-medium.log 2>&1

Result: bench/results/migration_cutover_<scale>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import sys
import time
import uuid
from typing import Any

os.environ.setdefault("ALGOITNY_ENVIRONMENT", "test")

import httpx
from benchkit import private_moto, write_result
from support.endpoints import local_stack
from support.legacy_cdc import (
    ConnectWorker,
    create_database,
    drop_database,
    free_port,
    legacy_stop,
    legacy_topics_exist,
    legacy_up,
)

from algoitny_devtools.platform import SERVICES, Platform, prepare

SERVICES_USED = ["gateway", "accounts", "problems", "ratelimit", "search-indexer", "executions", "stats"]
IMPORTERS = ("accounts", "ratelimit", "problems", "executions", "hints")
ADMIN_TOKEN = "bench-operator-token"
API = "/api/v1"


logging.basicConfig(level=logging.WARNING, format="[%(asctime)s] %(name)s %(message)s", datefmt="%H:%M:%S")
logging.getLogger("algoitny_migration").setLevel(logging.INFO)  # each gate's failed tries, with why


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait(cond: Any, timeout_s: float, interval_s: float = 2.0, what: str = "") -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"{what} not after {timeout_s:.0f} s")
        time.sleep(interval_s)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="medium", choices=["small", "medium"])
    ap.add_argument("--timeout-s", type=float, default=5400, help="for the import and each gate")
    ap.add_argument("--shared-moto", action="store_true", help="use the shared moto instead of a private one")
    args = ap.parse_args()

    from algoitny_migration.bootstrap import CutoverWiring, build, build_cutover
    from algoitny_migration.domain.legacy_data import SCALES, generate
    from algoitny_migration.service_layer.verify import Verifier
    from algoitny_migration.settings import MigrationSettings
    from algoitny_shared.legacy.tables import LEGACY_TABLES

    started = legacy_up()
    ns = f"c{uuid.uuid4().hex[:7]}"
    os.environ.update({**local_stack().env(), "ALGOITNY_NAMESPACE": ns})
    aws = contextlib.ExitStack()
    if not args.shared_moto:
        # A moto of its own: the shared one serialises every DynamoDB request of every test run
        # on the machine (seconds per request when others are busy), so the figures would be theirs.
        aws.enter_context(private_moto())
    db_name = f"legacy_{ns}"
    dsn = create_database(db_name)
    kafka = os.environ["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"]
    worker = ConnectWorker(ns, kafka)
    base = random.randrange(23000, 26000, 20)
    env = {
        "ALGOITNY_NAMESPACE": ns,
        "ALGOITNY_ADMIN_TOKEN": ADMIN_TOKEN,
        "ALGOITNY_TRUSTED_PROXY_HOPS": "1",
        # Commits wake their relay at once; the poll only sweeps for what another process wrote
        # (the importer and the API process of a service share the outbox's shards). moto answers
        # a query on an index by scanning every item of the table, and every process's relay
        # sweeps 4 shards per interval: at 0.3 s a 50k-event outbox alone kept moto busy.
        "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "10",
        "ALGOITNY_RATE_GENERAL_PER_MIN": "100000",
        "ALGOITNY_RATE_SIGNIN_PER_MIN": "100000",
        "ALGOITNY_LOG_LEVEL": "WARNING",
    }
    plat = Platform(namespace=ns, base_port=base, env=env)
    offset = {s.name: s.port_offset for s in SERVICES}
    api = {name: free_port() for name in IMPORTERS}
    settings = MigrationSettings(
        namespace=ns,
        legacy_dsn=dsn,
        connect_url=worker.url,
        legacy_topic_prefix=f"{ns}.legacy",
        kafka_bootstrap_servers=kafka,
        gateway_url=plat.url("gateway"),
        accounts_url=plat.url("accounts"),
        problems_url=plat.url("problems"),
        executions_url=plat.url("executions"),
        ratelimit_url=plat.url("ratelimit"),
        stats_url=plat.url("stats"),
        hints_url=f"http://127.0.0.1:{base + offset['hints']}",
        accounts_legacy_url=f"http://127.0.0.1:{api['accounts']}",
        ratelimit_legacy_url=f"http://127.0.0.1:{api['ratelimit']}",
        problems_legacy_url=f"http://127.0.0.1:{api['problems']}",
        executions_legacy_url=f"http://127.0.0.1:{api['executions']}",
        hints_legacy_url=f"http://127.0.0.1:{api['hints']}",
        gateway_admin_token=ADMIN_TOKEN,
        cutover_gate_timeout_s=args.timeout_s,
    )
    m = build(settings)
    result: dict[str, Any] = {"scale": args.scale}
    try:
        m.legacy.apply_schema()
        t0 = time.monotonic()
        counts = m.legacy.load(generate(dataclasses.replace(SCALES[args.scale])))
        result["legacy_rows"] = counts
        result["legacy_rows_total"] = sum(counts.values())
        result["seed_s"] = round(time.monotonic() - t0, 1)
        log(f"seeded {sum(counts.values())} rows in {result['seed_s']} s")
        prepare(plat)
        plat.start_all(SERVICES_USED)
        plat.wait_ready(SERVICES_USED, timeout_s=180)
        worker.start()
        writer_port = free_port()
        plat.start_reverse_writer(
            {"ALGOITNY_LEGACY_DSN": dsn, "ALGOITNY_REVERSE_WRITER_PORT": str(writer_port), "ALGOITNY_LOG_LEVEL": "INFO"}
        )

        async def step(command: str) -> dict[str, Any]:
            fresh = build(settings)
            store, runner = build_cutover(fresh)
            try:
                if command == "start":
                    return (
                        await store.move(await store.get(), "migrating", "start", by="bench", note=None, record={})
                    ).as_dict()
                if command == "open":
                    current = await store.get()
                    if current.phase == "cut_over":
                        await store.move(current, "open", "finish", by="bench", note=None, record={})
                    return {}
                report = await (runner.cutover() if command == "cutover" else runner.rollback())
                return report.as_dict()
            finally:
                await store.close()
                await fresh.close()

        asyncio.run(step("start"))
        t0 = time.monotonic()
        m.register_connector()
        # The importers start once Connect has created every legacy topic (a consumer that
        # subscribed before a topic existed sees it only at its next metadata refresh, minutes later).
        wait(lambda: asyncio.run(legacy_topics_exist(settings.legacy_topic_prefix)), 300, 1, "legacy topics")
        imp_env = {
            "ALGOITNY_LEGACY_TOPIC_PREFIX": settings.legacy_topic_prefix,
            "ALGOITNY_LEGACY_ORPHAN_GRACE_S": "3",
            # One outbox query per shard for 5 s of commits (each query scans the outbox in moto).
            "ALGOITNY_LEGACY_RELAY_LINGER_S": "5",
        }
        for name in IMPORTERS:
            plat.start_importer(name, {**imp_env, "ALGOITNY_LEGACY_IMPORT_PORT": str(api[name])})

        need = sum(counts[t.name] for t in LEGACY_TABLES for _ in t.importers)
        progress: list[tuple[float, int]] = []

        async def caught_up() -> bool:
            """Every importing service accounts for every row; logs the rows accounted for so far."""
            fresh = build(settings)
            done, complete = 0, True
            try:
                for t in LEGACY_TABLES:
                    for service in t.importers:
                        st = await fresh.platform.import_status(service)
                        row = next((x for x in st.tables if x.table == t.name), None)
                        n = 0 if row is None else row.imported + row.quarantined
                        done += min(n, counts[t.name])
                        complete = complete and n >= counts[t.name]
            except Exception:
                return False
            finally:
                await fresh.close()
            progress.append((round(time.monotonic() - t0, 1), done))
            result["import_progress"] = progress[-1:] + progress[:-1:6]  # the last, and one a minute
            log(f"import: {done} of {need} rows accounted for ({done * 100 // max(need, 1)} %)")
            return complete

        wait(lambda: asyncio.run(caught_up()), args.timeout_s, 10, "import")
        result["import_s"] = round(time.monotonic() - t0, 1)
        result["import_rows_per_s"] = round(sum(counts.values()) / result["import_s"], 1)
        log(f"imported in {result['import_s']} s")

        async def views_lag() -> dict[str, int | None]:
            fresh = build(settings)
            try:
                return await CutoverWiring(fresh).views_lag()
            finally:
                await fresh.close()

        def views_caught_up() -> bool:
            """What cutover's views_caught_up gate waits for: a verify before it fails on the views."""
            lag = asyncio.run(views_lag())
            log(f"derived views behind (events): {lag}")
            return all(v == 0 for v in lag.values())

        t0 = time.monotonic()
        wait(views_caught_up, args.timeout_s, 15, "derived views")
        result["views_caught_up_after_import_s"] = round(time.monotonic() - t0, 1)

        async def verify() -> dict[str, Any]:
            fresh = build(settings)
            try:
                return (await Verifier(fresh.legacy, fresh.platform).run()).as_dict()
            finally:
                await fresh.close()

        tries: list[float] = []

        failures: list[dict[str, Any]] = []

        def verified() -> bool:
            t = time.monotonic()
            report = asyncio.run(verify())
            ok = bool(report["ok"])
            tries.append(round(time.monotonic() - t, 1))
            log(f"verify {'PASS' if ok else 'FAIL'} in {tries[-1]} s")
            if not ok:
                # Kept (and printed) so a failed run says why: the counts and the first mismatches.
                failed = {"mismatch_count": report["mismatch_count"], "first": report["mismatches"][:20]}
                failures.append(failed)
                result["verify_failures"] = failures
                log(f"verify mismatches: {json.dumps(failed, default=str)[:4000]}")
            return ok

        t0 = time.monotonic()
        wait(verified, args.timeout_s, 5, "verify")
        result["verify_passing_after_import_s"] = round(time.monotonic() - t0, 1)
        result["verify_runs_s"] = tries

        for label in ("cutover", "act", "rollback", "recutover"):
            t0 = time.monotonic()
            if label == "act":
                gw = httpx.Client(base_url=plat.url("gateway"), timeout=30, headers={"x-forwarded-for": "10.99.0.1"})
                admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
                for i in range(5):
                    r = gw.post(
                        f"{API}/auth/register",
                        json={
                            "email": f"bench{i}-{ns}@platform.example",
                            "password": "bench-password-16!",
                            "name": "B",
                        },
                    )
                    assert r.status_code == 201, r.text
                uid = gw.get(f"{API}/auth/whoami", headers={"authorization": f"Bearer {r.json()['access_token']}"})
                r = gw.patch(f"{API}/admin/users/{uid.json()['user_id']}", json={"plan_id": "legacy-2"}, headers=admin)
                assert r.status_code == 200, r.text
                cases = [{"input": f"{i} {i}\n", "output": f"{2 * i}\n", "is_sample": i == 0} for i in range(5)]
                r = gw.post(
                    f"{API}/problems",
                    json={
                        "platform": "bench",
                        "problem_id": ns,
                        "title": "벤치",
                        "status": "completed",
                        "test_cases": cases,
                    },
                    headers=admin,
                )
                assert r.status_code == 201, r.text
                result["act_s"] = round(time.monotonic() - t0, 1)
                continue
            rep = asyncio.run(step("cutover" if label != "rollback" else "rollback"))
            result[f"{label}_s"] = round(time.monotonic() - t0, 1)
            result[f"{label}_write_window_s"] = rep.get("write_window_s")
            result[f"{label}_gates_s"] = {g["name"]: g["seconds"] for g in rep.get("gates", [])}
            result[f"{label}_ok"] = rep.get("ok")
            log(f"{label}: ok={rep.get('ok')} in {result[f'{label}_s']} s, window {rep.get('write_window_s')} s")
            if not rep.get("ok"):
                result[f"{label}_report"] = rep
                break
        asyncio.run(step("open"))
    finally:
        write_result(f"migration_cutover_{args.scale}", result)
        plat.stop_all()
        try:
            m.delete_connector(drop_slot=False)
        except Exception as exc:
            print(f"connector not deleted: {exc}", file=sys.stderr)
        asyncio.run(m.close())
        worker.stop()
        drop_database(db_name, settings.slot_name())
        from support.fixtures import _cleanup

        from algoitny_shared.settings import ServiceSettings

        asyncio.run(_cleanup(ServiceSettings(service_name="bench")))
        aws.close()
        legacy_stop(started)


if __name__ == "__main__":
    main()
