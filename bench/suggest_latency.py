"""Suggestions as you type over 10,000 problems: latency of GET /api/v1/problems/suggest.

Starts its own services (gateway, accounts, problems, ratelimit, search indexer) in a
private namespace against the local stack, loads ``--documents`` problems (default 10,000:
the judged relevance corpus plus generated English and Korean titles) through the indexer's
own write path, as bench/search_latency.py does. Then replays keystrokes, one request per
screen of realistic queries as they are typed (Korean syllables composed jamo by jamo):
title words in English, Korean and Japanese, ids, platform-prefixed ids, glued Korean
numbers, pasted URLs. Sequentially through the gateway and straight at the indexer, and
``--clients`` concurrent typists through the gateway. Each completed query must suggest its
problem first. Target: p99 under 50 ms through the gateway. The load average is recorded:
the figures mean little on a machine busy with other work.

    ALGOITNY_ENVIRONMENT=local .venv/bin/python bench/suggest_latency.py   # bench/results/suggest_latency.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import running_platform, summary, write_result  # noqa: E402
from search_latency import SERVICES, load  # noqa: E402

TARGET_P99_MS = 50.0
# What people type, and the problem that must come first once they have typed all of it.
TYPED: list[tuple[str, str]] = [
    ("theatre square", "codeforces/1A"),
    ("do not be distracted", "codeforces/1520A"),
    ("watermelon", "codeforces/4A"),
    ("미로 탐색", "baekjoon/2178"),
    ("가장 긴 증가하는 부분 수열 2", "baekjoon/12015"),
    ("아기 상어", "baekjoon/16236"),
    ("카드2", "baekjoon/2164"),
    ("n과 m (1)", "baekjoon/15649"),
    ("白昼夢", "atcoder/abc049_c"),
    ("two sum", "leetcode/1"),
    ("boj 2178", "baekjoon/2178"),
    ("백준1753", "baekjoon/1753"),
    ("cf 1520a", "codeforces/1520A"),
    ("CF4A", "codeforces/4A"),
    ("lc 1000", "leetcode/1000"),
    ("11053", "baekjoon/11053"),
    ("abc049_c", "atcoder/abc049_c"),
]
PASTED: list[tuple[str, str]] = [
    ("https://www.acmicpc.net/problem/1000", "baekjoon/1000"),
    ("https://codeforces.com/contest/1520/problem/A", "codeforces/1520A"),
]
FILLER_TYPED = ["golden garden", "lucky robots 12", "큰 카드", "새로운 기차 4"]  # the generated haystack


INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"


def screens(text: str) -> list[str]:
    """What the search box shows after each keystroke: a Korean syllable is composed on screen
    (탐색: ㅌ, 타, 탐, 탐ㅅ, 탐새, 탐색), other characters appear one by one."""
    out: list[str] = []
    for n, ch in enumerate(text):
        before, code = text[:n], ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.append(before + INITIALS[code // 588])
            out.append(before + chr(0xAC00 + code - code % 28))
            if code % 28:
                out.append(before + ch)
        else:
            out.append(before + ch)
    return out


def keystrokes() -> list[str]:
    """A request per keystroke of every typed query (spaces alone send nothing), then the pastes."""
    out: list[str] = []
    for text in [t for t, _ in TYPED] + FILLER_TYPED:
        out.extend(s for s in screens(text) if s.strip() and not s.endswith(" "))
    out.extend(url for url, _ in PASTED)
    return out


def replay(client: httpx.Client, path: str, rounds: int) -> list[float]:
    times: list[float] = []
    for _ in range(rounds):
        for q in keystrokes():
            t0 = time.perf_counter()
            resp = client.get(path, params={"q": q})
            times.append((time.perf_counter() - t0) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"suggest {q!r}: {resp.status_code} {resp.text}")
    return times


async def typists(base_url: str, path: str, clients: int, rounds: int) -> list[float]:
    times: list[float] = []

    async def one(offset: int, client: httpx.AsyncClient) -> None:
        strokes = keystrokes()
        strokes = strokes[offset:] + strokes[:offset]  # each typist at another point of the list
        for _ in range(rounds):
            for q in strokes:
                t0 = time.perf_counter()
                resp = await client.get(path, params={"q": q})
                times.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != 200:
                    raise RuntimeError(f"suggest {q!r}: {resp.status_code} {resp.text}")

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(one(i * 37, client) for i in range(clients)))
    return times


def cpu_ms(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def opensearch_took(namespace: str, opensearch_url: str, rounds: int) -> list[float]:
    """What OpenSearch itself reports (``took``) for the same suggest queries, without the HTTP layers."""
    from opensearchpy import AsyncOpenSearch

    from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
    from algoitny_search_indexer.domain.query import make_suggest_spec

    client = AsyncOpenSearch(hosts=[opensearch_url])
    index = ProblemIndex(client, namespace)
    took: list[float] = []
    try:
        for _ in range(rounds):
            for q in keystrokes():
                took.append(float((await index.suggest(make_suggest_spec(q)))["took"]))
    finally:
        await client.close()
    return took


async def drop_index(namespace: str, opensearch_url: str) -> None:
    from opensearchpy import AsyncOpenSearch

    client = AsyncOpenSearch(hosts=[opensearch_url])
    try:
        await client.indices.delete(index=f"{namespace}-problems-*", ignore_unavailable=True)
    finally:
        await client.close()


def run(args: argparse.Namespace) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    opensearch_url = os.environ.get("ALGOITNY_OPENSEARCH_URL", "http://127.0.0.1:9200")
    # One client sends every request: per-client throttling would measure itself.
    env = {"ALGOITNY_RATE_GENERAL_PER_MIN": "10000000", "ALGOITNY_RATE_SUGGEST_PER_MIN": "10000000"}
    path = "/api/v1/problems/suggest"
    try:
        with running_platform(SERVICES, env=env, base_port=args.base_port, namespace=namespace) as plat:
            load_s = asyncio.run(load(namespace, opensearch_url, args.documents))
            load_before = os.getloadavg()[0]
            with httpx.Client(base_url=plat.url("gateway"), timeout=30) as gateway:
                wrong = []
                for q, expected in TYPED + PASTED:
                    items = gateway.get(path, params={"q": q}).json()["items"]
                    if not items or f"{items[0]['platform']}/{items[0]['problem_id']}" != expected:
                        wrong.append({"query": q, "expected": expected, "got": items[:1]})
                replay(gateway, path, 1)  # warm-up: connections, caches, JIT
                pids = {name: plat.procs[name].pid for name in ("gateway", "search-indexer")}
                cpu_before = {name: cpu_ms(pid) for name, pid in pids.items()}
                via_gateway = replay(gateway, path, args.rounds)
                cpu_per_request = {
                    name: round((cpu_ms(pid) - cpu_before[name]) / len(via_gateway), 3) for name, pid in pids.items()
                }
                # For comparison: the full search (highlights, facets, totals) on the same keystrokes.
                search = replay(gateway, "/api/v1/problems/search", 2)
            with httpx.Client(base_url=plat.url("search-indexer"), timeout=30) as indexer:
                direct = replay(indexer, "/suggest", args.rounds)
            concurrent = asyncio.run(typists(plat.url("gateway"), path, args.clients, args.rounds))
        took = asyncio.run(opensearch_took(namespace, opensearch_url, args.rounds))
    finally:
        asyncio.run(drop_index(namespace, opensearch_url))
    p99 = summary(via_gateway)["p99"]
    return {
        "load_average_1m_before_and_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        "benchmark": "suggest-latency",
        "documents_in_index": args.documents,
        "load_seconds": round(load_s, 2),
        "keystrokes_per_round": len(keystrokes()),
        "rounds": args.rounds,
        "suggest_through_gateway_ms": summary(via_gateway, count=True, extremes=True),
        "suggest_direct_to_indexer_ms": summary(direct, count=True, extremes=True),
        "opensearch_took_ms": summary(took, count=True, extremes=True),
        "cpu_ms_per_suggest_through_gateway": cpu_per_request,
        "search_through_gateway_same_keystrokes_ms": summary(search, count=True, extremes=True),
        f"suggest_through_gateway_{args.clients}_concurrent_typists_ms": summary(concurrent, count=True, extremes=True),
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": p99 < TARGET_P99_MS,
        "completed_queries_not_first": wrong,
        "note": "One request per keystroke (every screen of the typed queries, then pasted URLs), anonymous, "
        "limit 8, sequential unless stated; the machine is shared with other work.",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18620")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "suggest_latency.json"))
    args = parser.parse_args()
    result = run(args)
    write_result("suggest_latency", result, args.out)
    if not result["meets_target"] or result["completed_queries_not_first"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
