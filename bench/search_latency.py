"""Search over 10,000 problems: create-to-searchable and search latency through the gateway.

Starts its own services (gateway, accounts, problems, ratelimit, search indexer) in a
private namespace against the local stack. Then:

1. Loads ``--documents`` problems (default 10,000: the judged relevance corpus plus
   generated English and Korean titles) straight into the index through the indexer's own
   write path (``Indexer.apply``, the code the Kafka consumer runs for each event) — creating
   10,000 problems through the problems service on moto would mostly measure moto.
2. Create-to-searchable: creates ``--creates`` problems through the gateway (problems
   service -> DynamoDB outbox -> Kafka -> indexer -> OpenSearch) while the 10,000 are in the
   index, and times from sending the create until a search by its id through the gateway
   finds it (polling every ``--poll-ms``).
3. Search latency: ``--searches`` sequential searches through the gateway, cycling through
   the judged queries (ids, English words and prefixes, Korean parts, typos, tags), each
   with highlights and facets; the same queries straight at the indexer, for comparison.

    .venv/bin/python bench/search_latency.py            # figures in bench/results/search_latency.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import running_platform, summary, write_result  # noqa: E402
from support.search_corpus import CURATED, JUDGEMENTS, envelope_of  # noqa: E402

SERVICES = ["gateway", "accounts", "problems", "ratelimit", "search-indexer"]
TOKEN = "bench-operator-token"
EN = ["Balanced", "Magic", "Ancient", "Frozen", "Lucky", "Hidden", "Tiny", "Royal", "Silent", "Crimson", "Golden"]
EN2 = ["Array", "Garden", "Robots", "Candies", "Bridges", "Towers", "Segments", "Lanterns", "Puzzle", "Journey"]
KO = ["큰", "작은", "빠른", "이상한", "즐거운", "새로운", "오래된"]
KO += ["트리", "게임", "배열", "카드", "상자", "로봇", "기차"]
TAGS = ["ad-hoc", "constructive", "geometry", "number-theory", "combinatorics", "games", "bitmasks", "hashing"]


def generated(count: int, seed: int = 11) -> list[tuple[str, str, str, list[str]]]:
    rng = random.Random(seed)
    out = list(CURATED)
    n = 0
    while len(out) < count:
        n += 1
        if n % 2:
            title = f"{rng.choice(EN)} {rng.choice(EN2)} {n}"
            out.append(("gen", f"g{n}", title, rng.sample(TAGS, 2)))
        else:
            title = f"{rng.choice(KO)} {rng.choice(KO)} {rng.choice(KO)} {n}"
            out.append(("genko", f"k{n}", title, rng.sample(TAGS, 2)))
    return out


async def load(namespace: str, opensearch_url: str, documents: int) -> float:
    from opensearchpy import AsyncOpenSearch

    from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
    from algoitny_search_indexer.service_layer.indexing import Indexer
    from algoitny_shared.events import REGISTRY

    client = AsyncOpenSearch(hosts=[opensearch_url], timeout=30)
    index = ProblemIndex(client, namespace)
    indexer = Indexer(index)
    gate = asyncio.Semaphore(16)
    started = time.perf_counter()

    async def one(n: int, problem: tuple[str, str, str, list[str]]) -> None:
        env = envelope_of(*problem, n)
        async with gate:
            await indexer.apply(env, REGISTRY.decode(env))  # type: ignore[arg-type]

    try:
        await index.ensure()
        await asyncio.gather(*(one(n, p) for n, p in enumerate(generated(documents))))
        await index.refresh()
        assert await index.count() >= documents
    finally:
        await client.close()
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    opensearch_url = os.environ.get("ALGOITNY_OPENSEARCH_URL", "http://127.0.0.1:9200")
    env = {
        "ALGOITNY_ADMIN_TOKEN": TOKEN,
        # One client sends every request: per-client throttling would measure itself.
        "ALGOITNY_RATE_GENERAL_PER_MIN": "1000000",
    }
    with running_platform(SERVICES, env=env, base_port=args.base_port, namespace=namespace) as plat:
        load_s = asyncio.run(load(namespace, opensearch_url, args.documents))
        headers = {"authorization": f"Bearer {TOKEN}"}
        create_ms: list[float] = []
        searchable_ms: list[float] = []
        with httpx.Client(base_url=plat.url("gateway"), timeout=30) as client:
            for i in range(args.creates):
                pid = f"c{i:04d}x{uuid.uuid4().hex[:4]}"
                body = {
                    "platform": "bench",
                    "problem_id": pid,
                    "title": f"Benchmark problem {i} about graphs and sums",
                    "tags": ["bench", "graphs"],
                    "status": "completed",
                    "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
                }
                started = time.perf_counter()
                resp = client.post("/api/v1/problems", json=body, headers=headers)
                created = time.perf_counter()
                if resp.status_code != 201:
                    raise RuntimeError(f"create failed: {resp.status_code} {resp.text}")
                while True:
                    found = client.get("/api/v1/problems/search", params={"q": pid, "limit": 1}).json()["items"]
                    if found and found[0]["problem_id"] == pid:
                        break
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"{pid} not searchable after 30 s")
                    time.sleep(args.poll_ms / 1000)
                create_ms.append((created - started) * 1000)
                searchable_ms.append((time.perf_counter() - started) * 1000)

            queries = [j.query for j in JUDGEMENTS]
            via_gateway: list[float] = []
            direct: list[float] = []
            with httpx.Client(base_url=plat.url("search-indexer"), timeout=30) as indexer:
                for i in range(args.searches):
                    q = queries[i % len(queries)]
                    t0 = time.perf_counter()
                    resp = client.get("/api/v1/problems/search", params={"q": q})
                    via_gateway.append((time.perf_counter() - t0) * 1000)
                    if resp.status_code != 200:
                        raise RuntimeError(f"search {q!r}: {resp.status_code} {resp.text}")
                    t0 = time.perf_counter()
                    resp = indexer.get("/search", params={"q": q})
                    direct.append((time.perf_counter() - t0) * 1000)
                    if resp.status_code != 200:
                        raise RuntimeError(f"search {q!r}: {resp.status_code} {resp.text}")
    return {
        "benchmark": "search-latency",
        "documents_in_index": args.documents + args.creates,
        "documents_loaded_directly": args.documents,
        "load_path": "Indexer.apply (the consumer's write path), 16 concurrent writes, not through Kafka",
        "load_seconds": round(load_s, 2),
        "creates_through_gateway": args.creates,
        "poll_interval_ms": args.poll_ms,
        "create_ms": summary(create_ms, count=True, extremes=True),
        "create_to_searchable_ms": summary(searchable_ms, count=True, extremes=True),
        "search_through_gateway_ms": summary(via_gateway, count=True, extremes=True),
        "search_direct_to_indexer_ms": summary(direct, count=True, extremes=True),
        "queries": len(queries),
        "note": "Create-to-searchable: POST through the gateway until a gateway search by id finds it "
        "(outbox relay, Kafka, indexer consumer, index refresh every 250 ms). Searches are sequential, anonymous, "
        "limit 20, with highlights and facets.",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--poll-ms", type=float, default=20)
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18600")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "search_latency.json"))
    args = parser.parse_args()
    result = run(args)
    write_result("search_latency", result, args.out)


if __name__ == "__main__":
    main()
