"""Check-and-consume latency (at the ratelimit service and through the gateway) and the
throughput of one ratelimit process.

Starts gateway, accounts, ratelimit and executions in a private namespace against the local
stack. Latency: sequential requests, each a new request id. Throughput: 8 concurrent
clients for a fixed number of requests against the ratelimit service alone. Every request
is admitted (the user is on a plan with a high limit), so each one does the full atomic
transaction. moto serialises DynamoDB requests, so the same calls are timed bare (a
TransactWriteItems of the same shape) and the ratio is reported too.

    make bench   # or: .venv/bin/python bench/quota_consume.py --count 300
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import Platform, percentile, prepare, summary, write_result  # noqa: E402

from algoitny_accounts.settings import AccountsSettings  # noqa: E402
from algoitny_shared import tokens  # noqa: E402
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner  # noqa: E402
from algoitny_shared.settings import ServiceSettings  # noqa: E402

# The gateway is ready only when problems and search answer too.
SERVICES = ["gateway", "accounts", "ratelimit", "executions", "problems", "search-indexer"]
TOKEN = "bench-operator-token"


def signed(user_id: str) -> dict[str, str]:
    """Quota calls carry the gateway's signed identity of the user they charge."""
    signer = IdentitySigner(ServiceSettings().internal_secret.get_secret_value())
    return {IDENTITY_HEADER: signer.sign(Identity(user_id=user_id, role="user"), "POST", "/quota/consume")}


def bare_transactions(namespace: str, count: int) -> list[float]:
    """The DynamoDB work of one consume, issued directly: 1 GetItem (user's plan) + the
    4-item TransactWriteItems + 1 BatchGetItem (counter read back)."""
    from algoitny_ratelimit.adapters.tables import RATELIMIT_OUTBOX, USER_PLANS
    from algoitny_ratelimit.adapters.usage_repository import UsageRepository
    from algoitny_shared.dynamo import dynamodb, to_item

    settings = ServiceSettings(namespace=namespace)
    client = dynamodb(settings)
    usage = UsageRepository(client, namespace)
    user = f"bare-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    timings = []
    for i in range(count):
        t0 = time.perf_counter()
        client.get_item(TableName=USER_PLANS.physical(namespace), Key={"user_id": {"S": user}})
        items = usage.consume_items(
            user_id=user,
            day="2026-01-01",
            action="execution",
            request_id=f"bare-{i:06d}",
            limit=-1,
            now=now,
            plan_id="x",
        )
        items.append(
            {
                "Put": {
                    "TableName": RATELIMIT_OUTBOX.physical(namespace),
                    "Item": to_item(
                        {"event_id": uuid.uuid4().hex, "pending": "1", "seq": f"{i:08d}", "envelope": "{}" * 200}
                    ),
                }
            }
        )
        client.transact_write_items(TransactItems=items)
        asyncio.run(usage.used(user, "2026-01-01", ("execution",)))
        timings.append((time.perf_counter() - t0) * 1000)
    return timings


def run(count: int, base_port: int) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    env = {
        "ALGOITNY_ADMIN_TOKEN": TOKEN,
        "ALGOITNY_LOG_LEVEL": "WARNING",
        "ALGOITNY_RATE_GENERAL_PER_MIN": "1000000",
        "ALGOITNY_RATE_EXECUTION_PER_MIN": "1000000",
    }
    plat = Platform(namespace=namespace, base_port=base_port, env=env)
    prepare(plat)
    plat.start_all(SERVICES)
    try:
        plat.wait_ready(SERVICES, timeout_s=120)
        admin = {"authorization": f"Bearer {TOKEN}"}
        gw = httpx.Client(base_url=plat.url("gateway"), timeout=30)
        plan = {"plan_id": "benchplan", "name": "Bench", "daily_limits": {"execution": 1_000_000, "hint": 1_000_000}}
        assert gw.post("/api/v1/admin/plans", json=plan, headers=admin).status_code == 201
        keyring = AccountsSettings().signing_keys()

        rl = httpx.Client(base_url=plat.url("ratelimit"), timeout=30)
        user = f"bench-{uuid.uuid4().hex[:8]}"
        service_ms = []
        for i in range(count):
            body = {"user_id": user, "action": "execution", "request_id": f"svc-{i:06d}", "plan_hint": "benchplan"}
            t0 = time.perf_counter()
            assert rl.post("/quota/consume", json=body, headers=signed(user)).status_code == 200
            service_ms.append((time.perf_counter() - t0) * 1000)

        # Through the gateway: POST /api/v1/executions is charged, then forwarded to executions.
        gw_user = f"benchgw-{uuid.uuid4().hex[:8]}"
        token, _ = tokens.issue(keyring, user_id=gw_user, role="user", plan="benchplan", ttl_s=3600)
        user_hdr = {"authorization": f"Bearer {token}"}
        gateway_ms = []
        for _ in range(count):
            t0 = time.perf_counter()
            resp = gw.post("/api/v1/executions", json={}, headers=user_hdr)
            gateway_ms.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code != 429 and "ratelimit-remaining" in resp.headers
        # The same forward without a charge (admins are not metered): the gateway's own cost.
        unmetered_ms = []
        for _ in range(count):
            t0 = time.perf_counter()
            gw.post("/api/v1/executions", json={}, headers=admin)
            unmetered_ms.append((time.perf_counter() - t0) * 1000)

        # Throughput of one ratelimit process: 8 concurrent clients.
        async def flood(n: int) -> float:
            async with httpx.AsyncClient(base_url=plat.url("ratelimit"), timeout=60) as client:
                sem = asyncio.Semaphore(8)
                tp_user = f"tp-{uuid.uuid4().hex[:8]}"

                async def one(i: int) -> None:
                    async with sem:
                        body = {
                            "user_id": tp_user,
                            "action": "execution",
                            "request_id": f"tp-{i:06d}",
                            "plan_hint": "benchplan",
                        }
                        r = await client.post("/quota/consume", json=body, headers=signed(tp_user))
                        assert r.status_code == 200, r.text

                t0 = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(n)))
                return n / (time.perf_counter() - t0)

        throughput = asyncio.run(flood(count))
        bare_ms = bare_transactions(namespace, count)
    finally:
        plat.stop_all()
    return {
        "benchmark": "quota check-and-consume",
        "requests": count,
        "service_consume_ms": summary(service_ms),
        "gateway_metered_request_ms": summary(gateway_ms),
        "gateway_unmetered_request_ms": summary(unmetered_ms),
        "bare_dynamodb_calls_ms": summary(bare_ms),
        "service_to_bare_ratio_p50": percentile(service_ms, 50) / percentile(bare_ms, 50),
        "ratelimit_process_consumes_per_s_8_clients": throughput,
        "note": "Against moto (DynamoDB requests serialised, each transaction deep-copies the touched tables).",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--base-port", type=int, default=18600)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "quota_consume.json"))
    args = parser.parse_args()
    result = run(args.count, args.base_port)
    write_result("quota_consume", result, args.out)


if __name__ == "__main__":
    main()
