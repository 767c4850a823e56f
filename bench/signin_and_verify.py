"""Sign-in and token-verification latency through the gateway (p50, p99).

Starts its own gateway, accounts (and the problems and search services the gateway
checks for readiness) in a private namespace against the local
stack (moto, Kafka), registers a user, then times:

* ``sign_in``: POST /api/v1/auth/login (gateway -> accounts: throttle counters, user
  read, one argon2id verification, refresh-token family write, JWT signing);
* ``refresh``: POST /api/v1/auth/refresh (rotation in one DynamoDB transaction);
* ``verify``: GET /api/v1/auth/whoami with the access token (the gateway verifies it
  locally and answers itself: the cost every authenticated request pays);
* ``me``: GET /api/v1/me (verification + signed identity assertion + accounts read).

    .venv/bin/python bench/signin_and_verify.py --count 300
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import percentile, running_platform, write_result  # noqa: E402

# The gateway is ready only when problems and search answer, so they run too.
SERVICES = ["gateway", "accounts", "problems", "search-indexer"]
PASSWORD = "bench password 12345"


def timed(count: int, call: Callable[[], httpx.Response]) -> dict[str, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        resp = call()
        samples.append((time.perf_counter() - started) * 1000)
        if resp.status_code >= 400:
            raise RuntimeError(f"{resp.status_code} {resp.text}")
    return {
        "count": count,
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
    }


def run(count: int, base_port: int) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    # Bench traffic comes from one address: lift the per-address limit (failures only, but be safe).
    with (
        running_platform(
            SERVICES,
            env={"ALGOITNY_LOG_LEVEL": "WARNING", "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ADDRESS": "100000"},
            base_port=base_port,
            namespace=namespace,
        ) as plat,
        httpx.Client(base_url=plat.url("gateway"), timeout=30) as client,
    ):
        email = f"bench-{uuid.uuid4().hex[:8]}@bench-mail.dev"
        reg = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Bench"})
        reg.raise_for_status()
        access = reg.json()["access_token"]
        refresh = {"token": reg.json()["refresh_token"]}
        auth = {"authorization": f"Bearer {access}"}
        for _ in range(10):  # warm-up: connection pools, first-use costs
            client.get("/api/v1/auth/whoami", headers=auth)
            client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})

        def do_refresh() -> httpx.Response:
            resp = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh["token"]})
            if resp.status_code == 200:
                refresh["token"] = resp.json()["refresh_token"]
            return resp

        results = {
            "sign_in": timed(
                count, lambda: client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            ),
            "refresh": timed(count, do_refresh),
            "verify": timed(count * 3, lambda: client.get("/api/v1/auth/whoami", headers=auth)),
            "me": timed(count * 3, lambda: client.get("/api/v1/me", headers=auth)),
            "anonymous_baseline": timed(count * 3, lambda: client.get("/api/v1/auth/whoami")),
        }
    return {"benchmark": "signin_and_verify", "namespace": namespace, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--base-port", type=int, default=19300)
    args = parser.parse_args()
    report = run(args.count, args.base_port)
    write_result("signin_and_verify", report)


if __name__ == "__main__":
    main()
