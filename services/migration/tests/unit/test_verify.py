"""verify against fakes: every row matched, quarantined with a reason, or reported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from algoitny_migration.service_layer.verify import Verifier, migrated_user_id
from algoitny_shared.legacy.api import LegacyDigest, LegacyDigestPage, LegacyRowsAnswer, QuarantinedRow, QuarantinePage
from algoitny_shared.legacy.canonical import canonical_row, row_digest

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def plan(i: int, name: str) -> dict[str, Any]:
    return dict(
        id=i,
        name=name,
        description="",
        max_hints_per_day=5,
        max_executions_per_day=50,
        max_problems=-1,
        can_view_all_problems=True,
        can_register_problems=False,
        is_active=True,
        created_at=T0,
        updated_at=T0,
    )


class FakeLegacy:
    def __init__(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self.tables = tables

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        yield from self.tables.get(table, [])

    def query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]:
        return []


class FakePlatform:
    def __init__(self, held: dict[tuple[str, str], dict[str, dict[str, Any]]], quarantined: list[QuarantinedRow]):
        self.held = held
        self.quarantined = quarantined

    async def digests(self, service: str, table: str, after: str | None, limit: int = 1000) -> LegacyDigestPage:
        rows = self.held.get((table, service), {})
        items = [LegacyDigest(key=k, digest=row_digest(table, service, r)) for k, r in sorted(rows.items())]
        start = int(after or 0)
        page = items[start : start + 2]  # pages of two: paging is exercised
        nxt = str(start + 2) if start + 2 < len(items) else None
        return LegacyDigestPage(table=table, service=service, items=page, next=nxt)

    async def rows(self, service: str, table: str, keys: list[str]) -> LegacyRowsAnswer:
        rows = self.held.get((table, service), {})
        return LegacyRowsAnswer(
            table=table, service=service, rows={k: canonical_row(table, service, rows[k]) for k in keys if k in rows}
        )

    async def quarantine(self, service: str, after: str | None, limit: int = 1000) -> QuarantinePage:
        return QuarantinePage(service=service, items=[q for q in self.quarantined if service == "ratelimit"])

    async def my_stats(self, user_id: str) -> dict[str, Any]:
        raise AssertionError

    async def my_usage(self, user_id: str) -> dict[str, Any]:
        raise AssertionError

    async def my_history(self, user_id: str, limit: int = 20) -> dict[str, Any]:
        raise AssertionError

    async def search(self, q: str, limit: int = 50) -> dict[str, Any]:
        raise AssertionError


def q(key: str) -> QuarantinedRow:
    return QuarantinedRow(
        table="subscription_plans", key=key, reason="duplicate name", op="r", first_seen=T0, last_seen=T0
    )


async def test_every_row_matching_or_quarantined_passes() -> None:
    legacy = FakeLegacy({"subscription_plans": [plan(1, "Free"), plan(2, "Pro"), plan(3, "Admin")]})
    platform = FakePlatform(
        {("subscription_plans", "ratelimit"): {"1": plan(1, "Free"), "2": plan(2, "Pro")}}, [q("3")]
    )
    report = await Verifier(legacy, platform, services=["ratelimit"]).run(["rows"])
    assert report.ok, report.as_dict()
    t = next(t for t in report.tables if t.table == "subscription_plans")
    assert (t.legacy, t.matching, t.quarantined) == (3, 2, 1)


async def test_missing_different_and_unexpected_rows_are_reported_with_the_columns() -> None:
    legacy = FakeLegacy({"subscription_plans": [plan(1, "Free"), plan(2, "Pro"), plan(3, "Admin")]})
    changed = {**plan(2, "Pro"), "max_problems": 10}
    platform = FakePlatform(
        {("subscription_plans", "ratelimit"): {"2": changed, "3": plan(3, "Admin"), "9": plan(9, "Gone")}}, []
    )
    report = await Verifier(legacy, platform, services=["ratelimit"]).run(["rows"])
    assert not report.ok
    out = report.as_dict()
    assert out["ok"] is False
    details = {(m["key"], m["detail"].split(":")[0]) for m in out["mismatches"] if m["check"] == "rows"}
    assert ("1", "legacy row neither imported nor quarantined") in details
    assert ("9", "imported row no longer in the legacy database") in details
    diff = next(m for m in out["mismatches"] if m["key"] == "2")
    assert "max_problems" in diff["detail"] and "-1" in diff["detail"]


async def test_an_unreachable_importer_fails_verify() -> None:
    class Down(FakePlatform):
        async def quarantine(self, service: str, after: str | None, limit: int = 1000) -> QuarantinePage:
            raise ConnectionError("refused")

    report = await Verifier(FakeLegacy({}), Down({}, []), services=["ratelimit"]).run(["rows"])
    assert not report.ok and report.mismatches[0].check == "service"


def test_migrated_user_ids_are_deterministic() -> None:
    assert migrated_user_id(42) == migrated_user_id("42") != migrated_user_id(43)
    assert migrated_user_id(42).startswith("u_")


async def test_reading_the_legacy_side_never_stalls_the_digest_requests_in_flight() -> None:
    """At medium the legacy scan of one table took minutes; done on the event loop, it stalled every
    other table's digest page in flight past its timeout, and idle connections the importers had
    closed meanwhile were reused: verify failed with 'digests not readable' (ReadTimeout, ReadError)
    though every row was there. The legacy side runs beside the loop."""
    import asyncio
    import time

    class SlowLegacy(FakeLegacy):
        def rows(self, table: str) -> Iterator[dict[str, Any]]:
            for row in self.tables.get(table, []):
                time.sleep(0.1)  # a slow legacy scan: blocks whatever thread runs it
                yield row

        def query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]:
            time.sleep(0.2)
            return []

    plans = [plan(i, f"P{i}") for i in range(1, 6)]
    legacy = SlowLegacy({"subscription_plans": plans, "users": []})
    platform = FakePlatform({("subscription_plans", "ratelimit"): {str(p["id"]): p for p in plans}}, [])
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        report = await Verifier(legacy, platform, services=["ratelimit"]).run(["rows", "aggregates", "history"])
    finally:
        tick.cancel()
    assert report.ok, report.as_dict()
    assert gaps and max(gaps) < 0.09, f"the event loop stalled for {max(gaps, default=9):.2f} s"
