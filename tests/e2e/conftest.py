"""The platform's services started for the end-to-end tests, in the test namespace."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from devstack import Platform, prepare  # deploy/local/devstack.py

ADMIN_TOKEN = "e2e-operator-token"
E2E_SERVICES = ["gateway", "accounts", "problems", "ratelimit", "search-indexer", "executions"]
# The suite sends many requests from one address: raw per-client limits are raised here and
# tested on a gateway replica of their own (test_quotas_e2e.py).
GENEROUS_RATES = {
    "ALGOITNY_RATE_GENERAL_PER_MIN": "100000",
    "ALGOITNY_RATE_EXECUTION_PER_MIN": "100000",
    "ALGOITNY_RATE_SIGNIN_PER_MIN": "100000",
}


def _free_base_port() -> int:
    for base in range(18000, 19000, 10):
        free = True
        for offset in range(8):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", base + offset)) == 0:
                    free = False
                    break
        if free:
            return base
    raise RuntimeError("no free port range for the e2e services")


@pytest.fixture(scope="session")
def platform(stack_env: dict[str, str], provisioned: dict[str, Any]) -> Iterator[Platform]:
    env = {
        **stack_env,
        "ALGOITNY_ADMIN_TOKEN": ADMIN_TOKEN,
        "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.5",
        "ALGOITNY_LOG_LEVEL": "INFO",
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
