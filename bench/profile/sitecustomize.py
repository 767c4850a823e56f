"""Loaded by every service process that bench/profile/run.py starts (PYTHONPATH): once the
service's HTTP kit is imported, cProfile records the event loop thread over ``PROBE_N`` requests
of each path (after ``PROBE_SKIP`` warm-up requests of that path) and writes the stats, with the
process's CPU per request, to ``PROBE_DIR/<pid>-<path>.txt``. Does nothing without PROBE_DIR."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _install() -> None:
    while "algoitny_shared.http" not in sys.modules:
        time.sleep(0.2)
    time.sleep(0.5)  # the module has finished importing
    import cProfile
    import io
    import pstats

    edge_cls = sys.modules["algoitny_shared.http"].EdgeMiddleware
    served = edge_cls.__call__
    state: dict[str, dict[str, Any]] = {}
    n, skip = int(os.environ.get("PROBE_N", "300")), int(os.environ.get("PROBE_SKIP", "60"))
    keys = [k for k in os.environ.get("PROBE_KEYS", "").split(",") if k]

    async def probed(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in ("/healthz", "/readyz", "/metrics"):
            parts = scope["path"].split("/")
            key = "_".join([scope["method"], *parts[1 : 4 if parts[1] == "api" else 3]])
            if not keys or key in keys:
                s = state.setdefault(key, {"n": 0})
                s["n"] += 1
                busy = any("prof" in o and "done" not in o for o in state.values())
                if s["n"] == skip and not busy:
                    s["prof"], s["cpu0"] = cProfile.Profile(), time.process_time()
                    s["prof"].enable()
                elif s["n"] == skip + n and "prof" in s:
                    s["prof"].disable()
                    s["done"] = True
                    cpu_ms = (time.process_time() - s["cpu0"]) * 1000 / n
                    out = io.StringIO()
                    out.write(f"{sys.argv[0]} {scope['path']} requests {n} cpu {cpu_ms:.3f} ms/request (profiled)\n")
                    stats = pstats.Stats(s["prof"], stream=out)
                    stats.sort_stats("tottime").print_stats(40)
                    stats.sort_stats("cumulative").print_stats(100)
                    _write(os.path.join(os.environ["PROBE_DIR"], f"{os.getpid()}-{key}.txt"), out.getvalue())
        await served(self, scope, receive, send)

    edge_cls.__call__ = probed


if os.environ.get("PROBE_DIR"):
    threading.Thread(target=_install, daemon=True, name="profile-probe").start()
