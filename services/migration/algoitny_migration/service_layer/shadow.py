"""``shadow --users N``: the parallel-testing phase's comparison (issue 16). For a sample of migrated
users, the legacy application's top access patterns (access-patterns.md section 1) answered from
the legacy database by the legacy queries and from the platform, compared field by field.

- problem with test cases: ``problems`` by (platform, problem_id) and its ``test_cases`` by created_at;
  the gateway's ``GET /problems/{p}/{id}?include=testcases`` (operator token);
- own history (AP-53): ``search_history WHERE user_id ORDER BY created_at DESC``; executions'
  ``/history?scope=mine`` as the user;
- own-or-public feed: ``WHERE user_id = %s OR is_code_public``, newest first; ``/history?scope=feed``;
- plan usage: today's ``usage_logs`` per action and the plan's daily limits; ratelimit's ``/me/usage``;
- statistics (AG-01..05): GROUP BY over the user's ``search_history``; stats' ``/me/stats``;
- admin user list: the newest ``users``; the gateway's ``GET /admin/users`` (operator token).

User-scoped patterns are asked of the owning service with the user's signed identity (the
operator cannot hold users' tokens); public and admin ones go through the gateway.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from algoitny_shared import languages
from algoitny_shared.legacy.identity import legacy_user_id

PAGE = 20


class ShadowLegacy(Protocol):
    def query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]: ...


class ShadowPlatform(Protocol):
    async def history_as(self, user_id: str, scope: str, limit: int) -> dict[str, Any]: ...
    async def my_usage(self, user_id: str) -> dict[str, Any]: ...
    async def my_stats(self, user_id: str) -> dict[str, Any]: ...
    async def gateway_admin_get(self, path: str, params: dict[str, Any] | None = None) -> Any | None: ...


@dataclass
class Difference:
    pattern: str
    subject: str
    field: str
    legacy: Any
    platform: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v if isinstance(v, str | int | float | bool | type(None)) else repr(v)[:200])
            for k, v in self.__dict__.items()
        }


@dataclass
class ShadowReport:
    users: list[int] = field(default_factory=list)
    compared: Counter[str] = field(default_factory=Counter)
    matching: Counter[str] = field(default_factory=Counter)
    differences: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "users": self.users,
            "patterns": {p: {"compared": n, "matching": self.matching[p]} for p, n in sorted(self.compared.items())},
            "differences": [d.as_dict() for d in self.differences[:200]],
            "difference_count": len(self.differences),
            "errors": self.errors,
        }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC).isoformat()


def _lang(value: str) -> str:
    return languages.normalise_or_none(value) or value.lower()


class Shadow:
    def __init__(self, legacy: ShadowLegacy, platform: ShadowPlatform) -> None:
        self.legacy = legacy
        self.platform = platform

    def sample(self, n: int, seed: int) -> list[int]:
        """Active users with history (deterministic for a seed); quarantined users are not migrated."""
        ids = [
            int(r["user_id"])
            for r in self.legacy.query(
                "SELECT DISTINCT h.user_id FROM search_history h JOIN users u ON u.id = h.user_id WHERE u.is_active"
                " ORDER BY h.user_id"
            )
        ]
        return sorted(random.Random(seed).sample(ids, min(n, len(ids))))

    def _compare(
        self, report: ShadowReport, pattern: str, subject: str, want: dict[str, Any], got: dict[str, Any]
    ) -> None:
        report.compared[pattern] += 1
        diffs = [Difference(pattern, subject, k, v, got.get(k)) for k, v in want.items() if got.get(k) != v]
        if diffs:
            report.differences.extend(diffs)
        else:
            report.matching[pattern] += 1

    async def run(self, n: int, seed: int = 16, skip_users: set[int] | None = None) -> ShadowReport:
        report = ShadowReport()
        report.users = [u for u in self.sample(n, seed) if u not in (skip_users or set())]
        for uid in report.users:
            for name, check in (
                ("own_history", self._history),
                ("own_or_public_feed", self._feed),
                ("plan_usage", self._usage),
                ("statistics", self._stats),
                ("problem_with_test_cases", self._problem),
            ):
                try:
                    await check(report, uid)
                except Exception as exc:  # a failing service is reported, the rest goes on
                    report.errors.append(f"{name} of user {uid}: {type(exc).__name__}: {exc}")
        try:
            await self._admin_users(report)
        except Exception as exc:
            report.errors.append(f"admin_user_list: {type(exc).__name__}: {exc}")
        return report

    @staticmethod
    def _entry(r: dict[str, Any]) -> dict[str, Any]:
        return {
            "platform": str(r["platform"]).lower(),
            "problem_id": r["problem_number"],
            "language": _lang(r["language"]),
            "passed": int(r["passed_count"]),
            "total": int(r["total_count"]),
            "public": bool(r["is_code_public"]),
            "created_at": _iso(r["created_at"]),
        }

    @staticmethod
    def _item(i: dict[str, Any]) -> dict[str, Any]:
        return {
            "platform": i.get("platform"),
            "problem_id": i.get("problem_id"),
            "language": i.get("language"),
            "passed": i.get("passed"),
            "total": i.get("total"),
            "public": i.get("public"),
            "created_at": _iso(i.get("created_at")),
        }

    async def _pages(
        self, report: ShadowReport, pattern: str, uid: int, legacy: list[dict[str, Any]], scope: str
    ) -> None:
        page = await self.platform.history_as(legacy_user_id(uid), scope, PAGE)
        items = page.get("items", [])
        if len(items) != len(legacy):
            report.compared[pattern] += 1
            report.differences.append(Difference(pattern, f"user {uid}", "entries", len(legacy), len(items)))
            return
        for k, (want, got) in enumerate(zip(legacy, items, strict=True)):
            self._compare(report, pattern, f"user {uid} entry {k}", self._entry(want), self._item(got))

    async def _history(self, report: ShadowReport, uid: int) -> None:
        rows = self.legacy.query(
            "SELECT * FROM search_history WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT %s", (uid, PAGE)
        )
        await self._pages(report, "own_history", uid, rows, "mine")

    async def _feed(self, report: ShadowReport, uid: int) -> None:
        rows = self.legacy.query(
            "SELECT * FROM search_history WHERE user_id = %s OR is_code_public ORDER BY created_at DESC, id DESC"
            " LIMIT %s",
            (uid, PAGE),
        )
        await self._pages(report, "own_or_public_feed", uid, rows, "feed")

    async def _usage(self, report: ShadowReport, uid: int) -> None:
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        used = {
            r["action"]: int(r["n"])
            for r in self.legacy.query(
                "SELECT action, count(*) AS n FROM usage_logs WHERE user_id = %s AND created_at >= %s GROUP BY action",
                (uid, start),
            )
        }
        plan = self.legacy.query(
            "SELECT p.max_hints_per_day, p.max_executions_per_day FROM users u JOIN subscription_plans p"
            " ON p.id = u.subscription_plan_id WHERE u.id = %s",
            (uid,),
        )
        got = {a.get("action"): a for a in (await self.platform.my_usage(legacy_user_id(uid))).get("actions", [])}
        want: dict[str, Any] = {"execution.used": used.get("execution", 0), "hint.used": used.get("hint", 0)}
        have: dict[str, Any] = {
            "execution.used": (got.get("execution") or {}).get("used"),
            "hint.used": (got.get("hint") or {}).get("used"),
        }
        if plan:
            want["execution.limit"] = plan[0]["max_executions_per_day"]
            want["hint.limit"] = plan[0]["max_hints_per_day"]
            have["execution.limit"] = (got.get("execution") or {}).get("limit")
            have["hint.limit"] = (got.get("hint") or {}).get("limit")
        self._compare(report, "plan_usage", f"user {uid}", want, have)

    async def _stats(self, report: ShadowReport, uid: int) -> None:
        runs = self.legacy.query(
            "SELECT platform, language, problem_id, failed_count FROM search_history WHERE user_id = %s", (uid,)
        )
        want = {
            "executions": len(runs),
            "by_platform": dict(Counter(r["platform"] for r in runs)),
            "by_language": dict(Counter(_lang(r["language"]) for r in runs)),
            "problems_attempted": len({r["problem_id"] for r in runs}),
            "accepted": sum(1 for r in runs if r["failed_count"] == 0),
        }
        got = await self.platform.my_stats(legacy_user_id(uid))
        self._compare(report, "statistics", f"user {uid}", want, {k: got.get(k) for k in want})

    async def _problem(self, report: ShadowReport, uid: int) -> None:
        found = self.legacy.query(
            "SELECT p.* FROM search_history h JOIN problems p ON p.id = h.problem_id WHERE h.user_id = %s"
            " AND NOT p.is_deleted ORDER BY h.created_at DESC LIMIT 1",
            (uid,),
        )
        if not found:
            return
        p = found[0]
        cases = self.legacy.query(
            "SELECT input, output FROM test_cases WHERE problem_id = %s ORDER BY created_at, id", (p["id"],)
        )
        got = await self.platform.gateway_admin_get(
            f"/api/v1/problems/{str(p['platform']).lower()}/{p['problem_id']}", {"include": "testcases"}
        )
        subject = f"problem {p['platform']}/{p['problem_id']}"
        if got is None:
            report.compared["problem_with_test_cases"] += 1
            report.differences.append(Difference("problem_with_test_cases", subject, "found", True, False))
            return
        tags = p["tags"] if isinstance(p["tags"], list) else [p["tags"]]
        want = {
            "title": p["title"],
            "tags": tags,
            "status": "completed" if p["is_completed"] else "draft",
            "test_cases": [(c["input"], c["output"]) for c in cases],
        }
        have = {
            "title": got.get("title"),
            "tags": got.get("tags"),
            "status": got.get("status"),
            "test_cases": [(c.get("input"), c.get("output")) for c in got.get("test_cases", [])],
        }
        self._compare(report, "problem_with_test_cases", subject, want, have)

    async def _admin_users(self, report: ShadowReport) -> None:
        legacy = self.legacy.query("SELECT id, email FROM users ORDER BY created_at DESC, id DESC LIMIT %s", (PAGE,))
        got = await self.platform.gateway_admin_get("/api/v1/admin/users", {"limit": 100})
        emails = {str(u.get("email", "")).lower() for u in (got or {}).get("items", [])}
        for r in legacy:
            self._compare(
                report, "admin_user_list", f"user {r['id']}", {"listed": True}, {"listed": r["email"].lower() in emails}
            )
