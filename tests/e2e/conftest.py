"""The platform's services started for the end-to-end tests, in the test namespace."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.e2e_config import (
    ADMIN_EMAIL,
    ADMIN_TOKEN,
    GOOGLE_CLIENT_ID,
    LINKED_ADMIN_EMAIL,
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_ADDRESS,
    REGISTRAR_PLAN,
)
from support.google_keys import FakeGoogle, serve_jwks
from support.otlp_collector import Collector, serve_collector
from support.problem_pages import serve_problem_pages

from algoitny_devtools.platform import Platform, prepare

E2E_SERVICES = [
    "gateway",
    "accounts",
    "problems",
    "problems-generation",
    "ratelimit",
    "search-indexer",
    "executions",
    "stats",
]
# The suite sends many requests from one address: raw per-client limits are raised here and
# tested on a gateway replica of their own (test_quotas_e2e.py).
GENEROUS_RATES = {
    "ALGOITNY_RATE_GENERAL_PER_MIN": "100000",
    "ALGOITNY_RATE_EXECUTION_PER_MIN": "100000",
    "ALGOITNY_RATE_SIGNIN_PER_MIN": "100000",
}


def _free_base_port() -> int:
    # Start at a random block: parallel runs (other worktrees) then rarely race for the same ports.
    blocks = list(range(18000, 20000, 10))
    start = random.randrange(len(blocks))
    for base in blocks[start:] + blocks[:start]:
        free = True
        for offset in range(10):  # the services' offsets (0-8) and a spare for replicas
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", base + offset)) == 0:
                    free = False
                    break
        if free:
            return base
    raise RuntimeError("no free port range for the e2e services")


@pytest.fixture(scope="session")
def google() -> Iterator[FakeGoogle]:
    """Google's key endpoint, played by a local HTTP server with locally generated keys."""
    fake = FakeGoogle(GOOGLE_CLIENT_ID)
    with serve_jwks(fake):
        yield fake


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    """Where the services export their spans (OTLP/HTTP), for the trace tests."""
    with serve_collector() as found:
        yield found


@pytest.fixture(scope="session")
def problem_pages() -> Iterator[str]:
    """Codeforces, Baekjoon and AtCoder pages served locally for the problem-import tests."""
    with serve_problem_pages() as overrides:
        yield overrides


@pytest.fixture(scope="session")
def platform(
    stack_env: dict[str, str],
    provisioned: dict[str, Any],
    google: FakeGoogle,
    problem_pages: str,
    collector: Collector,
) -> Iterator[Platform]:
    env = {
        "ALGOITNY_IMPORT_ORIGIN_OVERRIDES": problem_pages,
        "ALGOITNY_TRACING_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export spans within moments (the SDK's default: 5 s)
        **stack_env,
        "ALGOITNY_ADMIN_TOKEN": ADMIN_TOKEN,
        # Tests stand in for a proxy: each sets X-Forwarded-For to its own address.
        "ALGOITNY_TRUSTED_PROXY_HOPS": "1",
        "ALGOITNY_GOOGLE_CLIENT_IDS": GOOGLE_CLIENT_ID,
        "ALGOITNY_GOOGLE_JWKS_URL": google.url,
        "ALGOITNY_ADMIN_EMAILS": f"{ADMIN_EMAIL},{LINKED_ADMIN_EMAIL}",
        "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ACCOUNT": str(MAX_FAILURES_PER_ACCOUNT),
        "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ADDRESS": str(MAX_FAILURES_PER_ADDRESS),
        "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.5",
        "ALGOITNY_LOG_LEVEL": "INFO",
        # Judge slots of this run get uids (and cgroups) of their own: parallel runs never share.
        "ALGOITNY_JUDGE_UID_BASE": str(63000 + 16 * random.randrange(100)),
        "ALGOITNY_JUDGE_COMPILE_TIME_LIMIT_MS": "10000",
        **GENEROUS_RATES,
    }
    plat = Platform(namespace=stack_env["ALGOITNY_NAMESPACE"], base_port=_free_base_port(), env=env)
    prepare(plat)
    plat.start_all(E2E_SERVICES)
    try:
        plat.wait_ready(E2E_SERVICES, timeout_s=120)
        yield plat
    finally:
        plat.stop_all()


@pytest.fixture(scope="session")
def gateway(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.url("gateway"), timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def bootstrap() -> str:
    return os.environ["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"]


@pytest.fixture(scope="session")
def registrar_plan(gateway: httpx.Client, admin_headers: dict[str, str]) -> str:
    """A plan that may register problems without a cap, for the tests' registrar tokens (the
    problems service reads a registrar's cap from the plan their token names)."""
    body = {
        "plan_id": REGISTRAR_PLAN,
        "name": "E2E registrar",
        "daily_limits": {"execution": 1000, "hint": 100},
        "may_register_problems": True,
        "max_registered_problems": -1,
    }
    resp = gateway.post("/api/v1/admin/plans", json=body, headers=admin_headers)
    assert resp.status_code in (201, 409), resp.text
    return REGISTRAR_PLAN
