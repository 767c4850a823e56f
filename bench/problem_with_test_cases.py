"""Problems hot path and bulk ingest, through the gateway.

1. get-problem-with-test-cases (H2): ``GET /api/v1/problems/{platform}/{id}?include=testcases``
   for problems with 20 and with 200 inline cases: p50/p99 over N sequential requests. In the
   same run the bare DynamoDB calls that request needs (one GetItem + one Query) are timed
   against the same moto, so the figure can be read as a ratio (moto's Query dominates; see
   the infra notes).
2. bulk ingest: ``PUT .../testcases`` of 1,000 cases (chunked writes + flip), seconds per run.

Starts its own services (gateway, problems, accounts, ratelimit, search indexer) in a private
namespace against the local stack.

    .venv/bin/python bench/problem_with_test_cases.py --requests 200 --ingests 3
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import percentile, running_platform, summary, write_result  # noqa: E402

SERVICES = ["gateway", "accounts", "problems", "ratelimit", "search-indexer"]
TOKEN = "bench-operator-token"


def cases(n: int, tag: str = "") -> dict[str, Any]:
    return {
        "test_cases": [
            {"input": f"{i} {i + 1}{tag}\n", "output": f"{2 * i + 1}\n", "is_sample": i == 1} for i in range(1, n + 1)
        ]
    }


def bare_dynamodb(namespace: str, platform: str, problem_id: str, requests: int) -> list[float]:
    """The same GetItem + Query the service issues, straight from boto3 (no HTTP, no services)."""
    import os

    os.environ["ALGOITNY_NAMESPACE"] = namespace
    from algoitny_problems.adapters.keys import problem_key
    from algoitny_problems.adapters.repository import ProblemRepository
    from algoitny_shared.dynamo import dynamodb
    from algoitny_shared.settings import ServiceSettings

    client = dynamodb(ServiceSettings(namespace=namespace))
    repo = ProblemRepository(client, namespace)
    key = ProblemRepository.key(platform, problem_id)
    item = client.get_item(TableName=repo.problems, Key=key)["Item"]
    version, incarnation = int(item["test_set_version"]["N"]), item["incarnation"]["S"]
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get_item(TableName=repo.problems, Key=key)
        client.query(
            TableName=repo.test_cases,
            KeyConditionExpression="problem_key = :pk AND case_key BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": problem_key(platform, problem_id, incarnation)},
                ":lo": {"S": f"{version:06d}#000001"},
                ":hi": {"S": f"{version:06d}#999999"},
            },
            ConsistentRead=True,
        )
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(requests: int, ingests: int, base_port: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    results: dict[str, Any] = {"namespace": namespace, "requests": requests}
    with running_platform(
        SERVICES,
        env={"ALGOITNY_ADMIN_TOKEN": TOKEN, "ALGOITNY_LOG_LEVEL": "WARNING"},
        base_port=base_port,
        namespace=namespace,
    ) as plat:
        headers = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=plat.url("gateway"), timeout=120) as client:
            hot: dict[str, Any] = {}
            for size in (20, 200):
                pid = f"h{size}"
                body = {"platform": "bench", "problem_id": pid, "title": f"Hot path {size}", "status": "completed"}
                assert client.post("/api/v1/problems", json=body, headers=headers).status_code == 201
                put = client.put(f"/api/v1/problems/bench/{pid}/testcases", json=cases(size), headers=headers)
                assert put.status_code == 200, put.text
                url = f"/api/v1/problems/bench/{pid}"
                for _ in range(5):  # warm connections and clients
                    client.get(url, params={"include": "testcases"}, headers=headers)
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    # The whole set goes to the problem's managers only (readers get the samples).
                    resp = client.get(url, params={"include": "testcases"}, headers=headers)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert resp.status_code == 200 and len(resp.json()["test_cases"]) == size
                bare = bare_dynamodb(namespace, "bench", pid, requests)
                hot[f"{size}_cases"] = {
                    "through_gateway": summary(samples, suffix="_ms", count=True),
                    "bare_dynamodb_getitem_plus_query": summary(bare, suffix="_ms", count=True),
                    "ratio_p50": round(percentile(samples, 50) / percentile(bare, 50), 2),
                }
            results["get_problem_with_test_cases"] = hot

            body = {"platform": "bench", "problem_id": "ingest", "title": "Bulk ingest", "status": "completed"}
            assert client.post("/api/v1/problems", json=body, headers=headers).status_code == 201
            seconds = []
            for n in range(ingests):
                started = time.perf_counter()
                resp = client.put(
                    "/api/v1/problems/bench/ingest/testcases",
                    json=cases(1000, tag=f" r{n}"),
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                seconds.append(time.perf_counter() - started)
                assert resp.status_code == 200 and resp.json()["test_case_count"] == 1000, resp.text
            results["bulk_ingest_1000_cases_s"] = {
                "runs": [round(s, 2) for s in seconds],
                "median_s": round(statistics.median(seconds), 2),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--ingests", type=int, default=3)
    parser.add_argument("--base-port", type=int, default=19100)
    args = parser.parse_args()
    results = run(args.requests, args.ingests, args.base_port)
    write_result("problem_with_test_cases", results)


if __name__ == "__main__":
    main()
