"""The whole migration, end to end, on the real parts: a seeded legacy PostgreSQL, Kafka Connect
with the Debezium connector, every service's legacy importer (their real entrypoints), the
platform's services, and the migration tool's ``verify``.

1. ``verify`` passes: every legacy row imported (same canonical digest) or quarantined with a
   reason, the legacy aggregates equal the stats service's, every published problem found by its
   title, every migrated user's history page equal to the legacy query.
2. Through the gateway: a migrated user signs in with the legacy (Django pbkdf2) password, finds a
   migrated Korean problem by search, opens it with its test cases, sees the old history and
   today's legacy usage, and submits code that is judged and charged on top of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from devstack import SERVICES, Platform
from support.legacy_cdc import ConnectWorker, create_database, drop_database, free_port
from support.polling import eventually

# The platform, a Connect worker and the import of ~2,000 legacy rows on a shared 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

IMPORTERS = ("accounts", "ratelimit", "problems", "executions", "hints")
API = "/api/v1"


@dataclasses.dataclass
class Migrated:
    dsn: str
    migration: Any
    report: dict[str, Any]


def _settings(platform: Platform, namespace: str, dsn: str, connect_url: str, api: dict[str, int]) -> Any:
    from algoitny_migration.settings import MigrationSettings

    offset = {s.name: s.port_offset for s in SERVICES}
    return MigrationSettings(
        namespace=namespace,
        legacy_dsn=dsn,
        connect_url=connect_url,
        legacy_topic_prefix=f"{namespace}.legacy",
        gateway_url=platform.url("gateway"),
        accounts_url=platform.url("accounts"),
        problems_url=platform.url("problems"),
        executions_url=platform.url("executions"),
        ratelimit_url=platform.url("ratelimit"),
        stats_url=platform.url("stats"),
        hints_url=f"http://127.0.0.1:{platform.base_port + offset['hints']}",
        problems_legacy_url=f"http://127.0.0.1:{api['problems']}",
        executions_legacy_url=f"http://127.0.0.1:{api['executions']}",
        hints_legacy_url=f"http://127.0.0.1:{api['hints']}",
    )


@pytest.fixture(scope="module")
def migrated(platform: Platform, connect_worker: ConnectWorker, stack_env: dict[str, str]) -> Iterator[Migrated]:
    from algoitny_migration.bootstrap import build
    from algoitny_migration.domain.legacy_data import SCALES, generate
    from algoitny_migration.service_layer.verify import Verifier
    from algoitny_shared.legacy.tables import LEGACY_TABLES

    namespace = stack_env["ALGOITNY_NAMESPACE"]
    db_name = f"legacy_{namespace}_e2e"
    dsn = create_database(db_name)
    # The importers that serve their internal API get free ports (parallel runs share the machine).
    api = {name: free_port() for name in ("problems", "executions", "hints")}
    settings = _settings(platform, namespace, dsn, connect_worker.url, api)
    m = build(settings)
    m.legacy.apply_schema()
    # Smaller than --scale small (the importers write to moto, shared by every test on 2 cores);
    # every kind of legacy row and oddity is still there.
    tiny = dataclasses.replace(
        SCALES["small"],
        users=24,
        problems=24,
        test_cases_per_problem=2,
        big_test_cases=1,
        search_history=150,
        usage_logs=150,
        script_generation_jobs=6,
        task_results=2,
        hashed_users=3,
    )
    m.legacy.load(generate(tiny))
    env = {
        "ALGOITNY_LEGACY_TOPIC_PREFIX": settings.legacy_topic_prefix,
        "ALGOITNY_LEGACY_ORPHAN_GRACE_S": "3",
        "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.3",
    }
    started = [
        name
        for name in IMPORTERS
        if platform.start_importer(name, {**env, "ALGOITNY_LEGACY_IMPORT_PORT": str(api.get(name, 0))}) is not None
    ]
    assert set(started) == set(IMPORTERS), f"importers missing: {set(IMPORTERS) - set(started)}"
    try:
        m.register_connector()

        async def verify(checks: list[str]) -> dict[str, Any]:
            fresh = build(settings)  # its HTTP client belongs to this event loop
            try:
                return (await Verifier(fresh.legacy, fresh.platform).run(checks)).as_dict()
            finally:
                await fresh.close()

        counts = m.legacy.counts()

        async def caught_up() -> bool:
            """Every importer accounts for every legacy row (cheap: the status counters)."""
            fresh = build(settings)
            try:
                for t in LEGACY_TABLES:
                    for service in t.importers:
                        st = await fresh.platform.import_status(service)
                        row = next((x for x in st.tables if x.table == t.name), None)
                        if row is None or row.imported + row.quarantined < counts[t.name]:
                            return False
                return True
            except Exception:
                return False
            finally:
                await fresh.close()

        try:
            eventually(lambda: asyncio.run(caught_up()), timeout_s=300, interval_s=2)
        except AssertionError:
            pytest.fail(f"rows not all imported: {asyncio.run(verify(['rows']))['mismatches'][:10]}")
        # Events reach search and stats after the rows: the full verify, once they have caught up.
        last: dict[str, Any] = {}

        def all_done() -> dict[str, Any] | None:
            nonlocal last
            last = asyncio.run(verify(["rows", "aggregates", "search", "history"]))
            return last if last["ok"] else None

        t0 = time.monotonic()
        try:
            report = eventually(all_done, timeout_s=120, interval_s=3)
        except AssertionError:
            report = last
        print(f"full verify passed after {time.monotonic() - t0:.1f} s: {report['checked']}")
        yield Migrated(dsn, m, report)
    finally:
        for name in IMPORTERS:
            platform.kill(f"{name}-legacy-import")
        try:
            m.delete_connector(drop_slot=False)
        finally:
            asyncio.run(m.close())
            drop_database(db_name, settings.slot_name())


def test_verify_passes_on_every_row_aggregate_problem_and_history_page(migrated: Migrated) -> None:
    report = migrated.report
    assert report["ok"], f"{report['mismatch_count']} mismatches, first: {report['mismatches'][:10]}"
    checked = report["checked"]
    assert checked["search:problems"] > 0 and checked["history:users"] > 0 and checked["aggregates:users"] > 0
    tables = {(t["table"], t["service"]): t for t in report["tables"]}
    assert tables[("users", "accounts")]["quarantined"] >= 1, "the case-only duplicate e-mail is quarantined"
    assert tables[("test_cases", "problems")]["quarantined"] >= 1, "the test case of a problem that is gone"


def test_a_migrated_user_signs_in_finds_opens_sees_history_and_usage_and_submits(
    migrated: Migrated, gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    from algoitny_migration.domain.legacy_data import DEMO_USERS

    demo = next(d for d in DEMO_USERS if d.id == 2)  # 김민준: Pro plan, history and usage today
    login = gateway.post(f"{API}/auth/login", json={"email": demo.email, "password": demo.password})
    assert login.status_code == 200, login.text
    headers = {"authorization": f"Bearer {login.json()['access_token']}"}
    wrong = gateway.post(f"{API}/auth/login", json={"email": demo.email, "password": "not-the-password"})
    assert wrong.status_code == 401

    with psycopg.connect(migrated.dsn) as conn:
        problem = conn.execute(
            "SELECT p.platform, p.problem_id, p.title FROM problems p WHERE p.is_completed AND NOT p.is_deleted"
            " AND p.title ~ '[가-힣]' AND EXISTS (SELECT 1 FROM test_cases t WHERE t.problem_id = p.id)"
            " AND NOT EXISTS (SELECT 1 FROM test_cases t WHERE t.problem_id = p.id AND (t.output = ''"
            " OR length(t.input) > 1000)) ORDER BY p.id LIMIT 1"
        ).fetchone()
        assert problem is not None
        platform_name, number, title = problem
        cases = conn.execute(
            "SELECT input FROM test_cases t JOIN problems p ON p.id = t.problem_id WHERE p.platform = %s"
            " AND p.problem_id = %s ORDER BY t.created_at, t.id",
            (platform_name, number),
        ).fetchall()
        history = conn.execute(
            "SELECT platform, problem_number FROM search_history WHERE user_id = %s ORDER BY created_at DESC, id DESC"
            " LIMIT 20",
            (demo.id,),
        ).fetchall()
        today = dict(
            conn.execute(
                "SELECT action, count(*) FROM usage_logs WHERE user_id = %s AND created_at >="
                " date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' GROUP BY action",
                (demo.id,),
            ).fetchall()
        )

    # Finds the Korean problem by its title.
    found = gateway.get(f"{API}/problems/search", params={"q": title}, headers=headers)
    assert found.status_code == 200
    assert (platform_name, number) in {(h["platform"], h["problem_id"]) for h in found.json()["items"]}

    # Opens it with its test cases (the whole set, as the registrar/admin sees it; in legacy order).
    opened = gateway.get(f"{API}/problems/{platform_name}/{number}", headers=headers)
    assert opened.status_code == 200 and opened.json()["title"] == title
    full = gateway.get(
        f"{API}/problems/{platform_name}/{number}", params={"include": "testcases"}, headers=admin_headers
    )
    assert full.status_code == 200, full.text
    assert [c["input"] for c in full.json()["test_cases"]] == [c[0] for c in cases]

    # Sees the old history, newest first, as the legacy page listed it.
    page = gateway.get(f"{API}/history", params={"scope": "mine", "limit": 20}, headers=headers)
    assert page.status_code == 200
    assert [(i["platform"], i["problem_id"]) for i in page.json()["items"]] == [tuple(h) for h in history]

    # Today's legacy usage is already spent.
    usage = gateway.get(f"{API}/me/usage", headers=headers)
    assert usage.status_code == 200
    used = {a["action"]: a["used"] for a in usage.json()["actions"]}
    assert used.get("execution", 0) >= today.get("execution", 0) > 0

    # Submits code: judged against the migrated test cases, charged on top of the legacy usage.
    code = "a, b = map(int, input().split())\nprint(a + b)\n"
    body = {"platform": platform_name, "problem_id": number, "language": "python3", "code": code}
    sub = gateway.post(f"{API}/executions", json=body, headers=headers)
    assert sub.status_code == 202, sub.text
    execution_id = sub.json()["execution_id"]

    def judged() -> dict[str, Any] | None:
        got = gateway.get(f"{API}/executions/{execution_id}", headers=headers).json()
        return got if got.get("status") == "completed" else None

    done = eventually(judged, timeout_s=90, interval_s=0.5)
    assert done["verdict"] == "AC" and done["passed"] == done["total"] == len(cases)
    after = {a["action"]: a["used"] for a in gateway.get(f"{API}/me/usage", headers=headers).json()["actions"]}
    assert after["execution"] == used["execution"] + 1
