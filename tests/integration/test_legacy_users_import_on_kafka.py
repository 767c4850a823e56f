"""The accounts and ratelimit legacy importers (their importer processes' parts, built as
``python -m algoitny_<service>.entrypoints.legacy_import`` builds them, in this test's process) on
real Kafka topics and moto: Debezium-shaped
records of ``subscription_plans``, ``users`` and ``usage_logs`` become users, plans and usage
through each service's write path (with their events); a re-snapshot and redeliveries change
nothing; later changes win, deletes apply; bad rows end in quarantine with their reason; pause
holds the importer; the internal verify API rebuilds the legacy rows' digests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from support.kafka_tools import read_topic
from support.legacy_tools import create_topics, django_hash, plan_row, record, send, usage_row, user_row

from algoitny_accounts.entrypoints.legacy_import import AccountsLegacySettings
from algoitny_accounts.entrypoints.legacy_import import build_importer as accounts_importer
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS
from algoitny_ratelimit.entrypoints.legacy_import import RatelimitLegacySettings
from algoitny_ratelimit.entrypoints.legacy_import import build_importer as ratelimit_importer
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.legacy.canonical import row_digest
from algoitny_shared.legacy.identity import legacy_user_id
from algoitny_shared.legacy.rows import ROW_MODELS
from algoitny_shared.legacy.tables import SUBSCRIPTION_PLANS, USAGE_LOGS, USERS
from algoitny_shared.runtime import event_runtime
from algoitny_shared.topics import ACCOUNT_EVENTS, RATELIMIT_EVENTS

pytestmark = pytest.mark.integration
T = TypeVar("T")
NOW = datetime.now(UTC)


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.2)


@pytest.fixture
async def importers(provisioned: dict[str, Any], stack_env: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    ns = stack_env["ALGOITNY_NAMESPACE"]
    prefix = f"{ns}.legacy-users"
    common: dict[str, Any] = {"legacy_topic_prefix": prefix, "outbox_poll_interval_s": 0.2, "legacy_import_port": 0}
    accounts = accounts_importer(AccountsLegacySettings(**common))
    ratelimit = ratelimit_importer(RatelimitLegacySettings(**common))
    await ratelimit.service.plan_admin.seed(DEFAULT_PLANS)  # the platform's own "Free" is there first
    topics = {t.name: t.topic(prefix) for t in (SUBSCRIPTION_PLANS, USERS, USAGE_LOGS)}
    await create_topics(stack_env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"], list(topics.values()))
    async with (
        event_runtime(accounts.service.broker, accounts.service.relay, accounts.settings),
        event_runtime(ratelimit.service.broker, ratelimit.service.relay, ratelimit.settings),
    ):
        yield {"accounts": accounts, "ratelimit": ratelimit, "topics": topics, "ns": ns}


def _admin(settings: Any, method: str, path: str) -> dict[str, str]:
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    return {IDENTITY_HEADER: signer.sign(Identity(user_id="op", role="admin"), method, path)}


async def test_snapshot_changes_redelivery_quarantine_pause_and_verify(importers: dict[str, Any]) -> None:
    ai, ri, topics = importers["accounts"], importers["ratelimit"], importers["topics"]
    a, r = ai.service, ri.service
    bootstrap = a.settings.kafka_bootstrap_servers
    plans = [plan_row(1, "Basic", max_executions_per_day=3, max_hints_per_day=2), plan_row(2, "Free", is_active=False)]
    alice = user_row(
        11,
        "Alice@Example.com",
        password=django_hash("legacy-pass-11"),
        is_staff=True,
        subscription_plan_id=1,
    )
    users = [
        alice,
        user_row(12, "google.only@example.com", google_id="g-12"),
        user_row(13, "dup@example.com"),
        user_row(14, "DUP@Example.com"),  # the same address but for case: refused, the later one
        user_row(15, "gone@example.com", is_active=False),
    ]
    broken = {k: v for k, v in user_row(16, "broken@example.com").items() if k != "email"}
    usage = [
        usage_row(101, 11, "execution", NOW - timedelta(seconds=30)),
        usage_row(102, 11, "execution", NOW - timedelta(seconds=20)),
        usage_row(103, 11, "hint", NOW - timedelta(days=1)),
        usage_row(104, 999, "hint", NOW - timedelta(seconds=10)),  # an orphan: kept
        usage_row(105, 11, "search", NOW - timedelta(seconds=5)),  # refused
    ]
    snapshot = {
        "subscription_plans": [record("subscription_plans", p) for p in plans],
        "users": [record("users", u) for u in users]
        + [record("users", broken), (b'{"id": 17}', b'{"id": 17, "email": ')],
        "usage_logs": [record("usage_logs", u) for u in usage],
    }
    for table in ("subscription_plans", "users", "usage_logs"):
        await send(bootstrap, topics[table], snapshot[table])

    alice_id = legacy_user_id(11)
    user = await eventually(lambda: a.users.get(legacy_user_id(15)))
    assert not user.active  # inactive users stay inactive
    user = await eventually(lambda: a.users.get(alice_id))
    assert user.role == "admin" and user.plan_id == "legacy-1" and user.email == "alice@example.com"
    assert user.password_hash == alice["password"] and user.created_at == datetime.fromisoformat(alice["created_at"])
    google = await a.users.by_google_id("g-12")
    assert google is not None and google.password_hash is None and google.user_id == legacy_user_id(12)

    async def usage_counted() -> Any:
        view = await r.quotas.usage(alice_id, None)
        return view if view.plan_id == "legacy-1" and view.actions[0].used == 2 else None

    view = await eventually(usage_counted)  # today's legacy usage counts against today's quota
    assert view.actions[0].limit == 3 and view.actions[0].remaining == 1
    other = await eventually(lambda: r.plans.get("legacy-2", fresh=True))
    assert other.name == "Free (legacy 2)" and not other.active  # the platform's "Free" keeps its name

    async def orphan_kept() -> bool:
        return (await r.usage.used(legacy_user_id(999), view.day, ("hint",)))["hint"] == 1

    await eventually(orphan_kept)

    reasons = {}

    async def all_quarantined() -> bool:
        page, _ = await ai.store.quarantine_page(None, 10)
        reasons.update({q.key: q.reason for q in page})
        return len(page) == 3

    await eventually(all_quarantined)
    assert "duplicate e-mail" in reasons["14"] and "legacy user 13" in reasons["14"]
    assert "invalid row" in reasons["16"] and "email" in reasons["16"]
    assert "not JSON" in reasons["17"]

    async def ratelimit_quarantine() -> Any:
        page, _ = await ri.store.quarantine_page(None, 10)
        return page if len(page) == 3 else None

    page = await eventually(ratelimit_quarantine)
    assert [(q.table, q.key) for q in page] == [("usage_logs", "105"), ("users", "16"), ("users", "17")]
    assert "unknown action" in page[0].reason and page[0].row is not None and page[0].row["action"] == "search"

    # A re-snapshot (new positions, same rows), a redelivered old change, later changes and deletes.
    resnapshot = {t: [record(t, json.loads(v)) for _, v in recs if v.endswith(b"}")] for t, recs in snapshot.items()}
    for table in ("subscription_plans", "users", "usage_logs"):
        await send(bootstrap, topics[table], resnapshot[table])
    renamed = {**alice, "name": "Alice Kim"}
    await send(
        bootstrap,
        topics["users"],
        [
            record("users", renamed, op="u"),
            snapshot["users"][0],  # the first snapshot's row again: older than what was applied
            record("users", users[4], op="d"),
            record("users", user_row(18, "sentinel@example.com")),
        ],
    )
    await send(
        bootstrap,
        topics["usage_logs"],
        [record("usage_logs", usage[2], op="d"), record("usage_logs", usage_row(106, 12, "hint", NOW))],
    )
    await eventually(lambda: a.users.get(legacy_user_id(18)))
    assert (await a.users.get(alice_id)).name == "Alice Kim"
    assert await a.users.get(legacy_user_id(15)) is None
    await eventually(lambda: ri.store.get_state("usage_logs", "106"))
    assert (await r.quotas.usage(alice_id, None)).actions[0].used == 2  # nothing counted twice

    events = await read_topic(bootstrap, ACCOUNT_EVENTS.physical(importers["ns"]), expect=10**6, timeout_s=3)
    mine = [json.loads(e.value) for e in events if json.loads(e.value).get("aggregate_id") == alice_id]
    registered = [e for e in mine if e["event_type"] == "accounts.UserRegistered"]
    assert len(registered) == 1
    assert registered[0]["payload"]["registered_at"].startswith("2023-02-01T09:30")
    assert registered[0]["payload"]["method"] == "legacy" and registered[0]["payload"]["plan_id"] == "legacy-1"
    charges = await read_topic(bootstrap, RATELIMIT_EVENTS.physical(importers["ns"]), expect=10**6, timeout_s=3)
    consumed = [json.loads(c.value) for c in charges if b"UsageConsumed" in c.value]
    assert sorted(c["payload"]["request_id"] for c in consumed if c["payload"]["user_id"] == alice_id) == [
        "legacy-101",
        "legacy-102",
        "legacy-103",
    ]

    # The migrated user signs in with the legacy password; the hash becomes argon2id.
    await a.accounts.sign_in.login("alice@example.com", "legacy-pass-11", "127.0.0.1")
    assert (await a.users.get(alice_id)).password_hash.startswith("$argon2id$")

    # The importer's internal verify API: admin only; digests equal the legacy rows'.
    from algoitny_accounts.entrypoints.http import make_app

    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=ai.app()), base_url="http://importer") as client,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(a)), base_url="http://accounts") as service,
    ):
        path = "/internal/legacy/users/digests"
        assert (await client.get(path)).status_code == 401
        user_only = IdentitySigner(a.settings.internal_secret.get_secret_value()).sign(
            Identity(user_id=alice_id, role="user"), "GET", path
        )
        assert (await client.get(path, headers={IDENTITY_HEADER: user_only})).status_code == 403
        answer = (await client.get(path, headers=_admin(a.settings, "GET", path))).json()
        digests = {d["key"]: d["digest"] for d in answer["items"]}
        final = {11: renamed, 12: users[1], 13: users[2], 18: user_row(18, "sentinel@example.com")}
        expected = {
            str(k): row_digest("users", "accounts", ROW_MODELS["users"].model_validate(v).columns())
            for k, v in final.items()
        }
        assert digests == expected
        status_path = "/internal/legacy/status"
        status = (await client.get(status_path, headers=_admin(a.settings, "GET", status_path))).json()
        assert status["tables"][0] == {**status["tables"][0], "imported": 4, "deleted": 1, "quarantined": 3}
        resolved = await service.get(
            "/admin/users/legacy/11", headers=_admin(a.settings, "GET", "/admin/users/legacy/11")
        )
        assert resolved.json()["user_id"] == alice_id

        # Pause holds the importer; resume lets it go on.
        pause = "/internal/legacy/pause"
        assert (await client.post(pause, headers=_admin(a.settings, "POST", pause))).json()["paused"] is True
        await send(bootstrap, topics["users"], [record("users", user_row(19, "paused@example.com"))])
        await asyncio.sleep(1.5)  # an observation window: nothing may be applied while paused
        assert await a.users.get(legacy_user_id(19)) is None
        resume = "/internal/legacy/resume"
        assert (await client.post(resume, headers=_admin(a.settings, "POST", resume))).json()["paused"] is False
        await eventually(lambda: a.users.get(legacy_user_id(19)))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ri.app()), base_url="http://ratelimit") as client:
        for table, rows in (
            ("subscription_plans", plans),
            ("usage_logs", [usage[0], usage[1], usage[3], usage_row(106, 12, "hint", NOW)]),
        ):
            path = f"/internal/legacy/{table}/digests"
            answer = (await client.get(path, headers=_admin(r.settings, "GET", path))).json()
            expected = {
                str(row["id"]): row_digest(table, "ratelimit", ROW_MODELS[table].model_validate(row).columns())
                for row in rows
            }
            assert {d["key"]: d["digest"] for d in answer["items"]} == expected, table
