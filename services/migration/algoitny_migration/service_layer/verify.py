"""``verify``: every legacy row against the new platform, not a sample.

1. Per (table, importing service): the legacy rows (SQL) must each be imported (same canonical
   digest, :func:`algoitny_shared.legacy.canonical.row_digest`, on both sides) or quarantined
   with a reason; the service must hold nothing the legacy database does not (a legacy delete
   applied). Counts per table are compared on the way.
2. The legacy SQL aggregates over ``search_history`` (AG-01..05: runs, per platform, per
   language, distinct problems, passed) per migrated user against the stats service, and
   today's ``usage_logs`` per user and action (AG-06) against ratelimit's usage.
3. Every legacy problem that is published and not deleted is found by its title through search.
4. Every migrated user's first history page equals the legacy query (AP-53: own runs, newest first).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from algoitny_shared import languages
from algoitny_shared.legacy.canonical import COMPARED, canonical_row, row_digest
from algoitny_shared.legacy.identity import legacy_uuid
from algoitny_shared.legacy.tables import BY_NAME

MAX_REPORTED = 50  # mismatches kept in the report (the counts are complete)
HISTORY_PAGE = 20
DIGEST_PAGE = 250  # digests per request: a service rebuilds each from its items (big test data included)


def migrated_user_id(legacy_id: object) -> str:
    """The accounts user id of a legacy user (algoitny_shared.legacy.identity.legacy_user_id when present)."""
    from algoitny_shared.legacy import identity

    fn: Callable[[object], str] | None = getattr(identity, "legacy_user_id", None)
    if fn is not None:
        return fn(legacy_id)
    import base64

    return "u_" + base64.urlsafe_b64encode(legacy_uuid("users", int(str(legacy_id))).bytes).rstrip(b"=").decode()


class LegacySource(Protocol):
    def rows(self, table: str) -> Iterator[dict[str, Any]]: ...
    def query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]: ...


class Platform(Protocol):
    async def digests(self, service: str, table: str, after: str | None, limit: int = 1000) -> Any: ...
    async def rows(self, service: str, table: str, keys: list[str]) -> Any: ...
    async def quarantine(self, service: str, after: str | None, limit: int = 1000) -> Any: ...
    async def my_stats(self, user_id: str) -> dict[str, Any]: ...
    async def my_usage(self, user_id: str) -> dict[str, Any]: ...
    async def my_history(self, user_id: str, limit: int = 20) -> dict[str, Any]: ...
    async def search(self, q: str, limit: int = 50) -> dict[str, Any]: ...


@dataclass
class Mismatch:
    check: str  # rows | counts | aggregates | usage | search | history | service
    table: str
    key: str
    service: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "table": self.table,
            "key": self.key,
            "service": self.service,
            "detail": self.detail,
        }


@dataclass
class TableResult:
    table: str
    service: str
    legacy: int = 0
    imported: int = 0
    quarantined: int = 0
    matching: int = 0
    missing: int = 0
    different: int = 0
    unexpected: int = 0
    # Rows the reverse writer wrote from the platform after a cutover (issue 16): on the platform
    # under their platform ids already, so not expected from the importer.
    platform_originated: int = 0


@dataclass
class VerifyReport:
    tables: list[TableResult] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0
    checked: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0

    def add(self, m: Mismatch) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < MAX_REPORTED:
            self.mismatches.append(m)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mismatch_count": self.mismatch_count,
            "mismatches": [m.as_dict() for m in self.mismatches],
            "tables": [t.__dict__ for t in self.tables],
            "checked": dict(self.checked),
        }


Progress = Callable[[str, int], None]


def _noop(_: str, __: int) -> None:
    return None


class Verifier:
    def __init__(
        self,
        legacy: LegacySource,
        platform: Platform,
        *,
        services: Iterable[str] | None = None,
        progress: Progress = _noop,
        concurrency: int = 8,
        platform_originated: dict[str, set[str]] | None = None,
    ) -> None:
        self.legacy = legacy
        # table -> legacy keys the reverse writer created (algoitny_reverse.mapping): after a rollback
        # the legacy database holds rows that came from the platform; their users are not "migrated".
        self.originated = platform_originated or {}
        self.platform = platform
        self.services = set(services) if services is not None else None
        self.progress = progress
        self.sem = asyncio.Semaphore(concurrency)
        self.quarantined: dict[tuple[str, str], dict[str, str]] = {}  # (service, table) -> key -> reason

    def pairs(self) -> list[tuple[str, str]]:
        return [(t, s) for (t, s) in COMPARED if self.services is None or s in self.services]

    async def run(self, checks: Iterable[str] = ("rows", "aggregates", "search", "history")) -> VerifyReport:
        report = VerifyReport()
        checks = set(checks)
        reachable = await self._load_quarantines(report)
        if "rows" in checks:

            async def rows(table: str, service: str) -> None:
                try:
                    await self._rows(table, service, report)
                except Exception as exc:  # a service failing mid-way: reported, the rest goes on
                    report.add(Mismatch("service", table, "", service, f"digests not readable: {exc}"))

            # Every (table, service) pair at once: each pages through its importer's digests.
            await asyncio.gather(*(rows(t, s) for t, s in self.pairs() if s in reachable))
            order = {pair: n for n, pair in enumerate(self.pairs())}
            report.tables.sort(key=lambda r: order.get((r.table, r.service), len(order)))
        if "aggregates" in checks and "executions" in reachable:
            await self._aggregates(report)
        if "aggregates" in checks and "ratelimit" in reachable:
            await self._usage_today(report)
        if "search" in checks:
            await self._search(report)
        if "history" in checks and "executions" in reachable:
            await self._history(report)
        return report

    # ---- quarantines
    async def _load_quarantines(self, report: VerifyReport) -> set[str]:
        reachable: set[str] = set()
        for service in sorted({s for _, s in self.pairs()}):
            after: str | None = None
            try:
                while True:
                    page = await self.platform.quarantine(service, after)
                    for q in page.items:
                        self.quarantined.setdefault((service, q.table), {})[q.key] = q.reason
                    after = page.next
                    if not after:
                        break
                reachable.add(service)
            except Exception as exc:
                report.add(Mismatch("service", "", "", service, f"importer API not reachable: {exc}"))
        return reachable

    def _quarantined_key(self, table: str, key: str, services: Iterable[str]) -> bool:
        return any(key in self.quarantined.get((s, table), {}) for s in services)

    # ---- 1. every row
    def _legacy_digests(self, table: str, service: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
        pk = BY_NAME[table].primary_key
        expected: dict[str, str] = {}
        legacy_rows: dict[str, dict[str, Any]] = {}
        for row in self.legacy.rows(table):
            key = str(row[pk])
            expected[key] = row_digest(table, service, row)
            legacy_rows[key] = row
            self.progress(f"rows {table}/{service}", 1)
        return expected, legacy_rows

    async def _query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.legacy.query, statement, params)

    async def _rows(self, table: str, service: str, report: VerifyReport) -> None:
        # The legacy scan (minutes for a big table) runs beside the event loop: on it, it stalled the
        # other tables' digest pages in flight past their timeouts (see the tests).
        expected, legacy_rows = await asyncio.to_thread(self._legacy_digests, table, service)
        actual: dict[str, str] = {}
        after: str | None = None
        while True:
            page = await self.platform.digests(service, table, after, DIGEST_PAGE)
            for d in page.items:
                actual[d.key] = d.digest
            after = page.next
            if not after:
                break
        quarantined = self.quarantined.get((service, table), {})
        originated = self.originated.get(table, set())
        result = TableResult(table, service, legacy=len(expected), imported=len(actual))
        different: list[str] = []
        for key, digest in expected.items():
            got = actual.get(key)
            if got == digest:
                result.matching += 1
            elif key in quarantined and got is None:
                result.quarantined += 1  # accounted for, with its reason
            elif key in originated and got is None:
                result.platform_originated += 1
            elif got is None:
                result.missing += 1
                report.add(Mismatch("rows", table, key, service, "legacy row neither imported nor quarantined"))
            else:
                result.different += 1
                different.append(key)
        for key in actual.keys() - expected.keys():
            result.unexpected += 1
            report.add(Mismatch("rows", table, key, service, "imported row no longer in the legacy database"))
        # Show what differs for the first few.
        shown = different[:MAX_REPORTED]
        got_rows: dict[str, dict[str, Any]] = {}
        for i in range(0, len(shown), 100):
            try:
                got_rows.update((await self.platform.rows(service, table, shown[i : i + 100])).rows)
            except Exception:
                break
        for key in different:
            want = canonical_row(table, service, legacy_rows[key])
            have = got_rows.get(key)
            cols = sorted(c for c in want if have is not None and want[c] != have.get(c)) if have else []
            detail = "digest differs" + (
                ": " + "; ".join(f"{c}: legacy {want[c]!r:.80} != {have.get(c)!r:.80}" for c in cols)
                if have and cols
                else ""
            )
            report.add(Mismatch("rows", table, key, service, detail))
        accounted = result.matching + result.quarantined + result.different + result.missing
        if result.legacy != accounted + result.platform_originated:
            report.add(
                Mismatch(
                    "counts",
                    table,
                    "",
                    service,
                    f"legacy {result.legacy} != imported {result.matching + result.different}"
                    f" + quarantined {result.quarantined} + missing {result.missing}",
                )
            )
        report.checked[f"rows:{table}:{service}"] = result.legacy
        report.tables.append(result)

    # ---- 2. aggregates
    async def _aggregates(self, report: VerifyReport) -> None:
        rows = await self._query(
            "SELECT h.id, h.user_id, h.platform, h.language, h.problem_id, h.failed_count"
            " FROM search_history h JOIN users u ON u.id = h.user_id"
        )
        per_user: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            if self._quarantined_key("search_history", str(r["id"]), ["executions"]):
                continue
            per_user.setdefault(int(r["user_id"]), []).append(r)
        skipped_users = {int(k) for k in self.quarantined.get(("accounts", "users"), {}) if k.isdigit()}
        skipped_users |= {int(k) for k in self.originated.get("users", set()) if k.isdigit()}

        async def one(uid: int, runs: list[dict[str, Any]]) -> None:
            if uid in skipped_users:
                return
            # AG-01 .. AG-05, as the legacy AccountStatsView computed them.
            want = {
                "executions": len(runs),
                "by_platform": dict(Counter(r["platform"] for r in runs)),
                "by_language": dict(Counter(languages.normalise_or_none(r["language"]) or r["language"] for r in runs)),
                "problems_attempted": len({r["problem_id"] for r in runs}),
                "accepted": sum(1 for r in runs if r["failed_count"] == 0),
            }
            async with self.sem:
                try:
                    got = await self.platform.my_stats(migrated_user_id(uid))
                except Exception as exc:
                    report.add(
                        Mismatch("aggregates", "search_history", str(uid), "stats", f"stats not readable: {exc}")
                    )
                    return
            for name, value in want.items():
                if got.get(name) != value:
                    report.add(
                        Mismatch(
                            "aggregates",
                            "search_history",
                            str(uid),
                            "stats",
                            f"{name}: legacy {value!r} != stats {got.get(name)!r}",
                        )
                    )
            self.progress("aggregates", 1)

        await asyncio.gather(*(one(u, r) for u, r in per_user.items()))
        report.checked["aggregates:users"] = len(per_user)

    async def _usage_today(self, report: VerifyReport) -> None:
        """AG-06: today's (UTC) hint and execution counts per user, as the legacy rate limiter counted."""
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        rows = await self._query(
            "SELECT l.user_id, l.action, count(*) AS n FROM usage_logs l JOIN users u ON u.id = l.user_id"
            " WHERE l.created_at >= %s GROUP BY l.user_id, l.action",
            (start,),
        )
        per_user: dict[int, dict[str, int]] = {}
        for r in rows:
            per_user.setdefault(int(r["user_id"]), {})[r["action"]] = int(r["n"])

        async def one(uid: int, want: dict[str, int]) -> None:
            if str(uid) in self.originated.get("users", set()):
                return
            async with self.sem:
                try:
                    got = await self.platform.my_usage(migrated_user_id(uid))
                except Exception as exc:
                    report.add(Mismatch("usage", "usage_logs", str(uid), "ratelimit", f"usage not readable: {exc}"))
                    return
            used = {a.get("action"): a.get("used") for a in got.get("actions", [])}
            for action, n in want.items():
                if used.get(action, 0) < n:
                    report.add(
                        Mismatch(
                            "usage",
                            "usage_logs",
                            str(uid),
                            "ratelimit",
                            f"today's {action}: legacy {n} > used {used.get(action, 0)}",
                        )
                    )

        await asyncio.gather(*(one(u, w) for u, w in per_user.items()))
        report.checked["usage:users"] = len(per_user)

    # ---- 3. search
    async def _search(self, report: VerifyReport) -> None:
        problems = await self._query(
            "SELECT id, platform, problem_id, title FROM problems WHERE is_completed AND NOT is_deleted ORDER BY id"
        )
        quarantined = self.quarantined.get(("problems", "problems"), {})

        async def one(p: dict[str, Any]) -> None:
            if str(p["id"]) in quarantined:
                return
            async with self.sem:
                try:
                    page = await self.platform.search(p["title"], 50)
                except Exception as exc:
                    report.add(Mismatch("search", "problems", str(p["id"]), "search-indexer", f"search failed: {exc}"))
                    return
            hits = {(h.get("platform"), h.get("problem_id")) for h in page.get("items", [])}
            if (p["platform"], p["problem_id"]) not in hits:
                report.add(
                    Mismatch(
                        "search", "problems", str(p["id"]), "search-indexer", f"not found by its title {p['title']!r}"
                    )
                )
            self.progress("search", 1)

        await asyncio.gather(*(one(p) for p in problems))
        report.checked["search:problems"] = len(problems)

    # ---- 4. history pages
    async def _history(self, report: VerifyReport) -> None:
        users = await self._query(
            "SELECT DISTINCT h.user_id FROM search_history h JOIN users u ON u.id = h.user_id ORDER BY h.user_id"
        )
        skipped_users = set(self.quarantined.get(("accounts", "users"), {})) | self.originated.get("users", set())

        async def one(uid: int) -> None:
            if str(uid) in skipped_users:
                return
            # AP-53: the user's own runs, newest first (quarantined rows excluded).
            legacy = [
                r
                for r in await self._query(
                    "SELECT id, platform, problem_number, created_at FROM search_history"
                    " WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT %s",
                    (uid, HISTORY_PAGE + 10),
                )
                if not self._quarantined_key("search_history", str(r["id"]), ["executions"])
            ][:HISTORY_PAGE]
            want = [(r["platform"], r["problem_number"], _iso(r["created_at"])) for r in legacy]
            async with self.sem:
                try:
                    page = await self.platform.my_history(migrated_user_id(uid), HISTORY_PAGE)
                except Exception as exc:
                    report.add(
                        Mismatch("history", "search_history", str(uid), "executions", f"history not readable: {exc}")
                    )
                    return
            got = [(i.get("platform"), i.get("problem_id"), _iso(i.get("created_at"))) for i in page.get("items", [])]
            if got != want:
                first = next(
                    (n for n, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got))
                )
                report.add(
                    Mismatch(
                        "history",
                        "search_history",
                        str(uid),
                        "executions",
                        f"page differs at position {first}: legacy {want[first : first + 1]}"
                        f" != platform {got[first : first + 1]}"
                        f" ({len(want)} vs {len(got)} entries)",
                    )
                )
            self.progress("history", 1)

        await asyncio.gather(*(one(int(u["user_id"])) for u in users))
        report.checked["history:users"] = len(users)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    aware = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
