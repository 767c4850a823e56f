"""What every benchmark under bench/ shares: percentiles, starting the services in a private
namespace, free ports and writing the result file. One definition, so every figure is
computed the same way (nearest-rank percentiles) and every run is set up the same way.

    from benchkit import percentile, summary, running_platform, write_result
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import statistics
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

from support.moto_process import private_moto as moto_process  # noqa: E402

from algoitny_devtools.platform import Platform, prepare  # noqa: E402

BENCH_TOKEN = "bench-operator-token"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(pct/100 * n)); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    # ceil, not round(x + 0.5): Python rounds halves to even, which made p99 of 100 values the maximum.
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return float(ordered[rank])


def summary(
    values: Sequence[float],
    *,
    pcts: Sequence[int] = (50, 99),
    suffix: str = "",
    digits: int = 2,
    mean: bool = True,
    count: bool = False,
    extremes: bool = False,
) -> dict[str, float]:
    """``{"p50<suffix>": .., "p99<suffix>": .., "mean<suffix>": ..}`` of a sample (milliseconds)."""
    out: dict[str, float] = {}
    if count:
        out["n"] = len(values)
    for p in pcts:
        out[f"p{p}{suffix}"] = round(percentile(values, p), digits)
    if mean:
        out[f"mean{suffix}"] = round(statistics.fmean(values), digits) if values else 0.0
    if extremes:
        out[f"min{suffix}"] = round(min(values), digits) if values else 0.0
        out[f"max{suffix}"] = round(max(values), digits) if values else 0.0
    return out


def bench_namespace() -> str:
    return f"bench{uuid.uuid4().hex[:6]}"


def free_base_port(preferred: int | None = None, width: int = 10) -> int:
    """A block of ``width`` free loopback ports: ``preferred`` if free, else a random free block."""

    def free(base: int) -> bool:
        for offset in range(width):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", base + offset)) == 0:
                    return False
        return True

    if preferred is not None and free(preferred):
        return preferred
    blocks = list(range(20000, 24000, width))
    start = random.randrange(len(blocks))
    for base in blocks[start:] + blocks[:start]:
        if free(base):
            return base
    raise RuntimeError("no free port block on 127.0.0.1")


@contextmanager
def running_platform(
    services: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    base_port: int | None = None,
    namespace: str | None = None,
    timeout_s: float = 120,
    wait: bool = True,
) -> Iterator[Platform]:
    """Provision a private namespace, start ``services``, wait until ready, stop them at the end."""
    plat = Platform(
        namespace=namespace or bench_namespace(),
        base_port=free_base_port(base_port),
        env={"ALGOITNY_ADMIN_TOKEN": BENCH_TOKEN, "ALGOITNY_LOG_LEVEL": "WARNING", **(env or {})},
    )
    prepare(plat)
    plat.start_all(list(services))
    try:
        if wait:
            plat.wait_ready(list(services), timeout_s=timeout_s)
        yield plat
    finally:
        plat.stop_all()


@contextmanager
def private_moto() -> Iterator[str]:
    """A moto server of our own (tests/support/moto_process.py) on a free loopback port.

    The shared moto serves every test run on the machine; its latency then depends on what
    others do (seconds per request under load). Load and fault runs use their own, so their
    figures and their bare-DynamoDB baseline see the same, otherwise idle, endpoint. The
    process environment points at it (ALGOITNY_AWS_ENDPOINT_URL) until the block ends."""
    saved = os.environ.get("ALGOITNY_AWS_ENDPOINT_URL")
    try:
        with moto_process() as url:
            os.environ["ALGOITNY_AWS_ENDPOINT_URL"] = url
            yield url
    finally:
        if saved is None:
            os.environ.pop("ALGOITNY_AWS_ENDPOINT_URL", None)
        else:
            os.environ["ALGOITNY_AWS_ENDPOINT_URL"] = saved


def write_result(name: str, result: Any, out: str | Path | None = None, *, echo: bool = True) -> Path:
    """Write ``result`` as JSON to ``out`` (default bench/results/<name>.json) and print it."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    path.write_text(text + "\n")
    if echo:
        print(text)
    return path
