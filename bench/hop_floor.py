"""The floor of the platform's HTTP hops: what a request costs to pass through the gateway and a
service when neither does any work, on this machine.

Issue 18 asks every hot path at one client to stay within 1.2x of its bare DynamoDB calls. A
request through the platform makes the same calls plus two HTTP hops (client -> gateway ->
service) that the bare replay does not have. This bench measures those hops alone, with the
servers the services use (uvicorn with uvloop and httptools, FastAPI, the gateway's aiohttp
client) and no middleware, no auth, no logging: the least any gateway-plus-service design on this
stack can cost. If that floor is above a fifth of a path's bare p50, 1.2x is out of reach for
that path whatever the services do.

    .venv/bin/python bench/hop_floor.py --requests 2000

Writes bench/results/hop_floor.json: p50/p99 (ms) of one hop (client -> service) and of two
(client -> proxy -> service), and the machine's load average while it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from benchkit import summary, write_result

from algoitny_devtools.registry import free_port

HERE = Path(__file__).resolve().parent  # uvicorn imports this module from here (--app-dir)


def upstream_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/item")
    async def item() -> dict[str, Any]:
        return {"platform": "baekjoon", "problem_id": "1000", "title": "A+B", "tags": ["math"]}

    return app


def proxy_app() -> Any:
    """Forwards GET /item to the upstream with one pooled aiohttp session, as the gateway does."""
    import aiohttp
    from fastapi import FastAPI, Response

    upstream = os.environ["HOP_FLOOR_UPSTREAM"]
    state: dict[str, aiohttp.ClientSession] = {}
    app = FastAPI()

    @app.on_event("startup")
    async def start() -> None:
        state["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))

    @app.get("/item")
    async def item() -> Response:
        async with state["s"].get(f"{upstream}/item") as resp:
            body = await resp.read()
            return Response(body, status_code=resp.status, media_type="application/json")

    return app


def _serve(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "--factory", f"hop_floor:{factory}", "--app-dir", str(HERE)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(cmd, env={**os.environ, **env})


def _ready(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout_s} s")


async def _timed(url: str, n: int) -> list[float]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        for _ in range(50):  # warm: connections, code paths
            (await client.get(url)).raise_for_status()
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            (await client.get(url)).raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per shape, one client")
    args = parser.parse_args()
    up_port, proxy_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    procs = [_serve("upstream_app", up_port, {})]
    procs.append(_serve("proxy_app", proxy_port, {"HOP_FLOOR_UPSTREAM": upstream}))
    try:
        _ready(f"{upstream}/item")
        _ready(f"http://127.0.0.1:{proxy_port}/item")
        load_before = os.getloadavg()[0]
        # Interleaved in rounds, so both shapes meet the same neighbours on a shared machine.
        one: list[float] = []
        two: list[float] = []
        rounds = 4
        for _ in range(rounds):
            one += asyncio.run(_timed(f"{upstream}/item", args.requests // rounds))
            two += asyncio.run(_timed(f"http://127.0.0.1:{proxy_port}/item", args.requests // rounds))
        result = {
            "one_hop_ms": summary(one, count=True),
            "two_hops_ms": summary(two, count=True),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cores": os.cpu_count(),
        }
        print(result)
        write_result("hop_floor", result, echo=False)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
