"""Helpers for the stats tests and benchmark: executions completed through the
executions service's own completion path, the SearchHistory oracle, generation snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mirakuru import HTTPExecutor, SimpleExecutor
from mirakuru.exceptions import ProcessExitedWithError, TimeoutExpired

from algoitny_devtools.registry import SERVICES
from support.moto_process import free_port, private_moto  # noqa: F401  (the stats tests and benchmark use both)

REPO = Path(__file__).resolve().parents[2]
VERDICTS = ("AC", "AC", "WA", "WA", "TLE", "RE")
LANGUAGES = ("python3", "cpp17", "java17")


class StatsProcess:
    """``python -m algoitny_stats`` (the registry's stats service) as a child process started
    through mirakuru, on a free port; killed and restarted by the tests."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "ALGOITNY_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.executor: HTTPExecutor | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def proc(self) -> subprocess.Popen[str] | None:
        return self.executor.process if self.executor is not None else None

    def start(self) -> None:
        """Start the process (``wait_ready`` waits for its readiness)."""
        service = next(s for s in SERVICES if s.name == "stats")
        with open(self.log_path, "ab") as log:
            self.executor = HTTPExecutor(
                [sys.executable, "-m", service.module],
                url=self.url + service.readiness_path,
                status=200,
                method="GET",
                cwd=str(REPO),
                envvars=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=60,
            )
            SimpleExecutor.start(self.executor)  # not waiting here: the tests wait with wait_ready

    def wait_ready(self, timeout_s: float = 60) -> None:
        assert self.executor is not None
        self.executor._timeout = timeout_s
        self.executor._set_timeout()
        try:
            self.executor.wait_for(self.executor.check_subprocess)
        except (TimeoutExpired, ProcessExitedWithError):
            raise TimeoutError(f"stats not ready; see {self.log_path}") from None

    def kill(self, sig: int = 9) -> None:
        if self.executor is not None and self.executor.running():
            self.executor.kill(sig=sig)
        self.executor = None

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as resp:
            return str(resp.read().decode())


class ExecutionFeed:
    """Executions written and completed through the executions service's repository, unit of work
    and outbox (real SearchHistory items and real ExecutionCompleted events, committed in one
    transaction with their outbox item); only the sandbox is skipped: the judge's report is made up.

    ``relays`` > 0 publishes through the service's outbox relay. The relay pays three moto calls
    per event on the Outbox table (a GSI query per pass, a lease, a mark), which on moto's server
    caps it at ~10 events/s once the table holds a few thousand items; with ``relays=0`` each
    committed unit of work publishes its own events right after the commit, through the same
    ``EventPublisher`` (topic, key, headers) the relay uses, and the outbox items stay pending."""

    def __init__(self, settings: Any, relays: int = 0) -> None:
        from algoitny_executions.bootstrap import build
        from algoitny_shared.kafka import EventPublisher
        from algoitny_shared.outbox import OutboxRelay
        from algoitny_shared.uow import DynamoUnitOfWork

        self.c = build(settings)
        self.publisher = EventPublisher(self.c.broker, settings)
        # Several relays, as several executions replicas would run (leases keep them apart).
        self.relays = [
            OutboxRelay(
                self.c.dynamodb, self.c.outbox, self.publisher, settings.service_name, settings.outbox_poll_interval_s
            )
            for _ in range(relays)
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.published = 0
        if not relays:
            feed = self

            class PublishingUnitOfWork(DynamoUnitOfWork):
                async def commit(self, retry: Any = None) -> None:
                    events = list(self.events)
                    await super().commit(retry)
                    for envelope in events:
                        await feed.publisher.publish(envelope, feed.topic_of(envelope))
                        feed.published += 1

            self.c.worker._uow = lambda: PublishingUnitOfWork(self.c.dynamodb, self.c.outbox)

    def topic_of(self, envelope: Any) -> str:
        from algoitny_shared.events import REGISTRY

        return REGISTRY.spec_for(envelope.event_type).topic.physical(self.c.settings.namespace)

    async def start(self) -> None:
        await self.c.broker.start()
        self._tasks = [asyncio.create_task(r.run()) for r in self.relays]

    async def stop(self) -> None:
        for relay in self.relays:
            relay.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.c.broker.stop()

    async def pending(self) -> int:
        return len(await self.c.relay.pending(limit=1))

    async def drained(self, timeout_s: float = 120) -> None:
        """Wait until the relays published every completion (at once without relays)."""
        if not self.relays:
            return
        for _ in range(int(timeout_s / 0.3)):
            if not await self.pending():
                return
            await asyncio.sleep(0.3)
        raise TimeoutError("the outbox was not drained")

    async def complete_one(self, user_id: str, problem_id: str, rng: random.Random) -> str:
        from algoitny_executions.domain.history import compress_code, new_execution_id, problem_key
        from algoitny_executions.domain.judging import JudgeReport, TestResult, Verdict
        from algoitny_shared.events.catalog import ExecutionSubmitted

        now = datetime.now(UTC)
        execution_id = new_execution_id(int(now.timestamp() * 1000))
        language = rng.choice(LANGUAGES)
        item = {
            "execution_id": execution_id,
            "user_id": user_id,
            "user_name": user_id,
            "platform": "cf",
            "problem_id": problem_id,
            "problem_key": problem_key("cf", problem_id),
            "problem_title": problem_id,
            "language": language,
            "code_z": compress_code("print(1)"),
            "code_bytes": 8,
            "public": False,
            "status": "queued",
            "passed": 0,
            "total": 0,
            "tests_done": 0,
            "test_set_version": 1,
            "created_at": now.isoformat(),
        }
        await asyncio.to_thread(self.c.dynamodb.put_item, **self.c.history.put_new(item)["Put"])
        job = ExecutionSubmitted(
            execution_id=execution_id,
            user_id=user_id,
            platform="cf",
            problem_id=problem_id,
            language=language,
            public=False,
            test_set_version=1,
            time_limit_ms=2000,
            memory_limit_mb=256,
            submitted_at=now,
        )
        verdict = Verdict(rng.choice(VERDICTS))
        tests = [TestResult(index=0, verdict=verdict, time_ms=rng.randrange(1, 80), memory_kb=1000)]
        await self.c.worker._finish(job, JudgeReport(verdict=verdict, tests=tests), time.monotonic(), 1, 1)
        return execution_id

    async def run(self, n: int, users: list[str], problems: list[str], *, concurrency: int = 8, seed: int = 8) -> None:
        rng = random.Random(seed)
        plan = [(rng.choice(users), rng.choice(problems)) for _ in range(n)]
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for pair in plan:
            queue.put_nowait(pair)

        async def worker() -> None:
            while not queue.empty():
                user, problem = queue.get_nowait()
                await self.complete_one(user, problem, rng)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def settings_in(env: dict[str, str], cls: Any, **extra: Any) -> Any:
    """A settings object read with ``env`` in the process environment (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cls(**extra)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    from algoitny_shared.dynamo import from_item

    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items.extend(from_item(i) for i in page.get("Items", []))
    return items


def oracle(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Every statistic computed straight from SearchHistory's completed items."""
    done = [h for h in history if h.get("status") == "completed"]
    users: dict[str, dict[str, Any]] = {}
    problems: dict[str, dict[str, Any]] = {}
    days: dict[str, dict[str, Any]] = {}
    for h in sorted(done, key=lambda h: (h["finished_at"], h["execution_id"])):
        ac = h["verdict"] == "AC"
        u = users.setdefault(
            h["user_id"],
            {"executions": 0, "accepted": 0, "by_verdict": {}, "by_language": {}, "tried": set(), "first_solve": {}},
        )
        u["executions"] += 1
        u["accepted"] += int(ac)
        u["by_verdict"][h["verdict"]] = u["by_verdict"].get(h["verdict"], 0) + 1
        u["by_language"][h["language"]] = u["by_language"].get(h["language"], 0) + 1
        u["tried"].add(h["problem_id"])
        if ac:
            u["first_solve"].setdefault(h["problem_id"], h["finished_at"])
        p = problems.setdefault(
            h["problem_id"], {"attempts": 0, "accepted": 0, "users": set(), "solvers": set(), "ms": []}
        )
        p["attempts"] += 1
        p["accepted"] += int(ac)
        p["users"].add(h["user_id"])
        if ac:
            p["solvers"].add(h["user_id"])
            p["ms"].append(int(h["max_time_ms"]))
        d = days.setdefault(h["finished_at"][:10], {"executions": 0, "accepted": 0, "users": {}})
        d["executions"] += 1
        d["accepted"] += int(ac)
        d["users"][h["user_id"]] = d["users"].get(h["user_id"], 0) + 1
    return {
        "users": {
            uid: {
                "executions": u["executions"],
                "accepted": u["accepted"],
                "by_verdict": dict(sorted(u["by_verdict"].items())),
                "by_language": dict(sorted(u["by_language"].items())),
                "problems_attempted": len(u["tried"]),
                "problems_solved": len(u["first_solve"]),
                "first_solve": dict(sorted(u["first_solve"].items())),
            }
            for uid, u in users.items()
        },
        "problems": {
            pid: {
                "attempts": p["attempts"],
                "accepted": p["accepted"],
                "users": len(p["users"]),
                "solves": len(p["solvers"]),
                "median_accepted_time_ms": statistics.median(p["ms"]) if p["ms"] else None,
            }
            for pid, p in problems.items()
        },
        "days": {
            day: {
                "executions": d["executions"],
                "accepted": d["accepted"],
                "active_users": len(d["users"]),
                "top": sorted(d["users"].items(), key=lambda kv: (-kv[1], kv[0])),
            }
            for day, d in days.items()
        },
        "total": len(done),
    }


async def observed(queries: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """The same statistics as the stats service answers them."""
    users = {}
    for uid in expected["users"]:
        view = await queries.user(uid)
        users[uid] = {
            "executions": view.executions,
            "accepted": view.accepted,
            "by_verdict": view.by_verdict,
            "by_language": view.by_language,
            "problems_attempted": view.problems_attempted,
            "problems_solved": view.problems_solved,
            "first_solve": dict(sorted((s.problem_id, s.first_solve_at) for s in view.solved)),
        }
    problems = {}
    for pid in expected["problems"]:
        view = await queries.problem("cf", pid)
        problems[pid] = {
            "attempts": view.attempts,
            "accepted": view.accepted,
            "users": view.users,
            "solves": view.solves,
            "median_accepted_time_ms": view.median_accepted_time_ms,
        }
    days = {}
    for day in expected["days"]:
        from datetime import date

        stats = await queries.admin(date.fromisoformat(day), date.fromisoformat(day))
        d = stats.days[0]
        days[day] = {
            "executions": d.executions,
            "accepted": d.accepted,
            "active_users": d.active_users,
            "top": {u.user_id: u.executions for u in stats.top_users},
        }
    for day, want in expected["days"].items():
        if isinstance(want["top"], list):  # the oracle's ranking, cut where the service's top list ends
            want["top"] = dict(want["top"][: len(days[day]["top"])])
    return {"users": users, "problems": problems, "days": days, "total": None}


def generation_snapshot(client: Any, table: str, generation: int) -> dict[tuple[str, str], dict[str, Any]]:
    """A generation's items, keys without the prefix, without ``ver`` (a concurrency token)."""
    prefix = f"G{generation}#"
    out = {}
    for item in scan_all(client, table):
        pk = str(item.pop("pk"))
        if pk.startswith(prefix):
            sk = str(item.pop("sk"))
            item.pop("ver", None)
            out[(pk[len(prefix) :], sk)] = item
    return out
