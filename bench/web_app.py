"""The web app's size and first-load time in Chromium, served by the gateway of a running platform.

1. Size: every file of ``web/dist`` raw and gzip-compressed (level 6, what a compressing proxy
   sends); the first load (index.html, its entry script and style sheet) apart from the chunks
   loaded on demand (the editor, the admin pages) and Swagger UI's assets (only /docs uses them).
2. First load: Debian's Chromium (Playwright, the installed browser) opens ``/`` with an empty
   cache ``--runs`` times; per run the navigation timing (response end, DOMContentLoaded, load)
   and the time until the app shows the search page with its results ("ready"). Then a problem
   page (its chunk) the same way, as a visitor who is not signed in. Once on loopback, once under an emulated slow 4G
   (150 ms RTT, 1.6 Mbit/s down) with the CPU slowed 4x, as phone audits do.

    .venv/bin/python bench/web_app.py      # figures in bench/results/web_app.json (web/dist must be built)
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parents[1]

from benchkit import BENCH_TOKEN, running_platform, summary, write_result  # noqa: E402

DIST = REPO / "web" / "dist"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROFILES: dict[str, dict[str, Any] | None] = {
    "loopback": None,
    "slow-4g-cpu4x": {"latency": 150, "download": 1.6e6 / 8, "upload": 750e3 / 8, "cpu": 4},
}
SERVICES = ["gateway", "accounts", "problems", "ratelimit", "search-indexer"]


def kib(n: int) -> float:
    return round(n / 1024, 1)


def sizes() -> dict[str, Any]:
    index = (DIST / "index.html").read_text()
    first = {"index.html", *(m.lstrip("/") for m in re.findall(r'(?:src|href)="(/assets/[^"]+)"', index))}
    files: dict[str, dict[str, float]] = {}
    totals = {"first_load": [0, 0], "on_demand": [0, 0], "swagger_ui": [0, 0]}
    for path in sorted(DIST.rglob("*")):
        if not path.is_file() or path.suffix == ".gz":  # the gateway's gzip copies: counted as gzip_kib
            continue
        rel = path.relative_to(DIST).as_posix()
        raw = path.read_bytes()
        packed = len(gzip.compress(raw, compresslevel=6))
        files[rel] = {"kib": kib(len(raw)), "gzip_kib": kib(packed)}
        group = "first_load" if rel in first else "swagger_ui" if rel.startswith("swagger-ui/") else "on_demand"
        totals[group][0] += len(raw)
        totals[group][1] += packed
    return {
        "files": files,
        **{f"{g}_kib": kib(v[0]) for g, v in totals.items()},
        **{f"{g}_gzip_kib": kib(v[1]) for g, v in totals.items()},
    }


READY = """() => new Promise(resolve => {
  const done = () => document.querySelector('main h1') && !document.querySelector('[role=status].loading')
                     && document.querySelector('.hits li, article.problem h1');
  const check = () => done() ? resolve(performance.now()) : requestAnimationFrame(check);
  check();
})"""


def load_once(browser: Browser, url: str, profile: dict[str, Any] | None) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # empty cache
    page = context.new_page()
    if profile:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": profile["latency"],
                "downloadThroughput": profile["download"],
                "uploadThroughput": profile["upload"],
            },
        )
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": profile["cpu"]})
    page.goto(url, wait_until="load")
    ready = page.evaluate(READY)
    nav = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {response_end: n.responseEnd, dom_content_loaded: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }"
    )
    transferred = page.evaluate(
        "() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))"
        ".reduce((s, e) => s + (e.transferSize || 0), 0)"
    )
    context.close()
    return {**nav, "ready": ready, "transferred_kib": kib(int(transferred))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        print("web/dist is not built: run `make web`")
        return 1
    result: dict[str, Any] = {"size": sizes()}
    with running_platform(SERVICES) as plat:
        base = plat.url("gateway")
        admin = {"authorization": f"Bearer {BENCH_TOKEN}"}
        problem = {
            "platform": "bench",
            "problem_id": "webload1",
            "title": "A plus B for the web bench",
            "tags": ["math"],
            "status": "completed",
            "constraints": "1 <= a, b <= 10^9",
            "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
        }
        resp = httpx.post(f"{base}/api/v1/problems", json=problem, headers=admin, timeout=30)
        assert resp.status_code in (201, 409), resp.text
        pages = {"search": f"{base}/", "problem": f"{base}/problems/bench/webload1"}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                load_once(browser, pages["search"], None)  # warm the server's caches, not the browser's
                for pname, profile in PROFILES.items():
                    for page_name, url in pages.items():
                        runs = [load_once(browser, url, profile) for _ in range(args.runs)]
                        result[f"{page_name}@{pname}"] = {
                            "runs": args.runs,
                            **{
                                metric: summary([r[metric] for r in runs], pcts=(50, 90), mean=False, digits=1)
                                for metric in ("response_end", "dom_content_loaded", "load", "ready")
                            },
                            "transferred_kib": runs[-1]["transferred_kib"],
                        }
            finally:
                browser.close()
    write_result("web_app", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
