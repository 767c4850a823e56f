"""The hot paths as a weighted mix of gateway requests, and an asyncio driver that runs the mix
with N concurrent clients for a bounded time (used by the load sweep and, as steady load, by the
fault-injection suite).

Paths (the legacy platform's hot paths H1-H5 plus search):

* ``signin``   POST /api/v1/auth/login (password)                       H1
* ``problem``  GET /api/v1/problems/{platform}/{id}?include=testcases   H2
* ``submit``   POST /api/v1/executions: the quota check-and-consume
               (H3, metered route) and the execution record (H4)        H3+H4
* ``usage``    GET /api/v1/me/usage: today's counts (the rate-limit read) H3
* ``history``  GET /api/v1/history?scope=mine                           own history
* ``search``   GET /api/v1/problems/search?q=...                        X1

The fault suite adds two writers: ``create`` (an admin registers a problem with its test cases)
and ``hint`` (a user asks for hints on one of their wrong-answer executions).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens
from algoitny_shared.upstream import AiohttpTransport, upstream_client

API = "/api/v1"
PASSWORD = "load test password 12345"
PLAN_ID = "loadplan"
WEIGHTS: dict[str, int] = {"signin": 3, "problem": 35, "submit": 15, "usage": 12, "history": 20, "search": 15}
SEARCH_WORDS = ["sum", "graph", "tree", "array", "path", "string", "prime", "matrix"]
CODE = "a, b = map(int, input().split())\nprint(a + b)\n"
LOGIN_ACCOUNTS = 16


@dataclass
class Seed:
    """What the mix needs: problems with test cases, users with tokens, password accounts."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    users: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (user_id, auth headers)
    # email, password: one account per few clients, as people sign in to their own accounts (a
    # sign-in is counted against its account until its password is checked: 50 clients on one
    # account would be throttled as a guessing attack, SIGNIN_MAX_FAILURES_PER_ACCOUNT in flight).
    logins: list[dict[str, str]] = field(default_factory=list)
    admin: dict[str, str] = field(default_factory=dict)  # admin auth headers
    wrong_answers: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (execution id, owner headers)


def seed(gateway: str, admin_token: str, *, problems: int = 20, cases: int = 10, users: int = 20) -> Seed:
    """Create a high-limit plan, ``problems`` problems with ``cases`` test cases, tokens for ``users``."""
    admin = {"authorization": f"Bearer {admin_token}"}
    out = Seed(admin=admin)
    with httpx.Client(base_url=gateway, timeout=60) as client:
        plan = {"plan_id": PLAN_ID, "name": "Load", "daily_limits": {"execution": 10_000_000, "hint": 10_000_000}}
        resp = client.post(f"{API}/admin/plans", json=plan, headers=admin)
        assert resp.status_code in (201, 409), resp.text
        for n in range(problems):
            word = SEARCH_WORDS[n % len(SEARCH_WORDS)]
            pid = f"L{n:03d}{uuid.uuid4().hex[:4]}"
            body = {
                "platform": "load",
                "problem_id": pid,
                "title": f"Load {word} problem {n}",
                "tags": ["load", word],
                "status": "completed",
                "test_cases": [
                    {"input": f"{i} {i + n}\n", "output": f"{2 * i + n}\n", "is_sample": i == 0} for i in range(cases)
                ],
            }
            resp = client.post(f"{API}/problems", json=body, headers=admin)
            assert resp.status_code == 201, resp.text
            out.problems.append(("load", pid))
        for _ in range(LOGIN_ACCOUNTS):
            email = f"load-{uuid.uuid4().hex[:8]}@load-mail.dev"
            resp = client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD, "name": "Load"})
            assert resp.status_code in (200, 201), resp.text
            out.logins.append({"email": email, "password": PASSWORD})
    keyring = AccountsSettings().signing_keys()
    for _ in range(users):
        user_id = f"load{uuid.uuid4().hex[:10]}"
        token, _ = tokens.issue(keyring, user_id=user_id, role="user", plan=PLAN_ID, ttl_s=6 * 3600)
        out.users.append((user_id, {"authorization": f"Bearer {token}"}))
    return out


Request = tuple[str, str, dict[str, Any]]  # method, url, httpx kwargs


def request_for(path: str, seed: Seed, rng: random.Random) -> Request:
    _user_id, headers = rng.choice(seed.users)
    platform, pid = rng.choice(seed.problems)
    if path == "signin":
        return "POST", f"{API}/auth/login", {"json": rng.choice(seed.logins)}
    if path == "problem":
        return "GET", f"{API}/problems/{platform}/{pid}", {"params": {"include": "testcases"}}
    if path == "submit":
        body = {"platform": platform, "problem_id": pid, "language": "python3", "code": CODE}
        return "POST", f"{API}/executions", {"json": body, "headers": headers}
    if path == "usage":
        return "GET", f"{API}/me/usage", {"headers": headers}
    if path == "history":
        return "GET", f"{API}/history", {"params": {"scope": "mine", "limit": 20}, "headers": headers}
    if path == "search":
        return "GET", f"{API}/problems/search", {"params": {"q": rng.choice(SEARCH_WORDS), "limit": 10}}
    if path == "create":
        pid = f"F{uuid.uuid4().hex[:10]}"
        body = {
            "platform": "load",
            "problem_id": pid,
            "title": f"Fault {rng.choice(SEARCH_WORDS)} problem {pid}",
            "status": "completed",
            "test_cases": [{"input": f"{i} {i}\n", "output": f"{2 * i}\n", "is_sample": i == 0} for i in range(3)],
        }
        return "POST", f"{API}/problems", {"json": body, "headers": seed.admin}
    if path == "hint":
        eid, owner = rng.choice(seed.wrong_answers)
        return "POST", f"{API}/executions/{eid}/hints", {"headers": owner}
    raise ValueError(path)


@dataclass
class Sample:
    path: str
    started: float  # monotonic seconds
    ms: float
    status: int  # 0: no response (connection error, timeout)
    body: Any = None
    request: Request | None = None


@dataclass
class LoadResult:
    clients: int
    seconds: float
    samples: list[Sample]

    def ok(self, s: Sample) -> bool:
        return 200 <= s.status < 300


async def drive(
    base_url: str,
    seed: Seed,
    *,
    clients: int,
    seconds: float,
    weights: dict[str, int] | None = None,
    warmup_s: float = 1.0,
    keep_body: Callable[[str], bool] | None = None,
    rng_seed: int = 7,
    timeout_s: float = 30.0,
    stop: threading.Event | None = None,
    idempotency_keys: bool = False,
) -> LoadResult:
    """Run the mix with ``clients`` concurrent clients for ``seconds`` (after ``warmup_s``), or until ``stop``.

    ``base_url`` may name several gateway replicas, comma-separated: the clients then behave like the
    web app behind a load balancer (a request that reached no replica goes to another; an idempotent
    one, GET or carrying an ``Idempotency-Key``, is sent again after its replica failed).
    ``idempotency_keys``: writes (submit, hint, create) carry a fresh key, as the web app sends them,
    so a write whose replica died in flight is sent again and answered once."""
    weights = weights or WEIGHTS
    names, w = list(weights), list(weights.values())
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    if "," in base_url:
        made = upstream_client(base_url, name="gateway", timeout=timeout_s, limits=limits, eject_s=2.0)
    else:
        # The platform's own client stack (httpx on aiohttp): the driver's HTTP client costs about
        # 0.15 ms of CPU per request instead of httpcore's 0.8 ms; that is the load generator's cost,
        # not the platform's, and on this 2-core machine it would be added to the platform's latency.
        made = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=AiohttpTransport(limits))
    async with made as client:
        start = time.monotonic()
        measure_from = start + warmup_s
        end = measure_from + seconds

        async def worker(n: int) -> None:
            rng = random.Random(rng_seed * 1000 + n)
            while time.monotonic() < end and not (stop is not None and stop.is_set()):
                path = rng.choices(names, w)[0]
                method, url, kwargs = request_for(path, seed, rng)
                if idempotency_keys and path in ("submit", "hint", "create"):
                    kwargs["headers"] = {**kwargs.get("headers", {}), "idempotency-key": uuid.uuid4().hex}
                t0 = time.monotonic()
                status, body, kept = 0, None, None
                try:
                    resp = await client.request(method, url, **kwargs)
                    status = resp.status_code
                    if keep_body and keep_body(path) and status < 300:
                        body = resp.json()
                        kept = (method, url, kwargs)
                except (httpx.HTTPError, OSError):
                    await asyncio.sleep(0.05)  # nothing answers (a fault): do not spin
                t1 = time.monotonic()
                if t0 >= measure_from:
                    samples.append(Sample(path, t0, (t1 - t0) * 1000, status, body, kept))

        await asyncio.gather(*(worker(n) for n in range(clients)))
    return LoadResult(clients, seconds, samples)


async def run_requests(base_url: str, seed: Seed, path: str, count: int, rng_seed: int = 11) -> list[Sample]:
    """``count`` sequential requests of one path (the cost phase: each path alone)."""
    rng = random.Random(rng_seed)
    out = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for _ in range(count):
            method, url, kwargs = request_for(path, seed, rng)
            t0 = time.monotonic()
            resp = await client.request(method, url, **kwargs)
            out.append(Sample(path, t0, (time.monotonic() - t0) * 1000, resp.status_code))
    return out
