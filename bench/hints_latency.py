"""Hint request to hints attached: POST /api/v1/executions/{id}/hints through the gateway, then
GET every few ms until the hints are ready; with a fake Gemini that answers after a fixed delay.

Starts its own services (gateway, problems, ratelimit, search indexer, hints) in a private
namespace against the local stack. The executions service's history API and Gemini are played by
local fakes (threads of this process); the hints service uses the real google-genai client. The
service's overhead beyond the LLM is the request-to-attached time minus the time the fake Gemini
spent on that request (its fixed delay plus its own few microseconds), so it includes the gateway,
the quota charge, the outbox relay, Kafka, the worker, DynamoDB and the polling granularity.

    .venv/bin/python bench/hints_latency.py --count 50 --llm-delay-ms 300
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import Platform, free_base_port, prepare, summary, write_result  # noqa: E402
from support.fake_executions import FakeExecutions, execution_doc, serve_executions  # noqa: E402
from support.fake_gemini import FakeGemini, serve_gemini  # noqa: E402

from algoitny_accounts.settings import AccountsSettings  # noqa: E402
from algoitny_shared import tokens  # noqa: E402
from algoitny_shared.settings import ServiceSettings  # noqa: E402

SERVICES = ["gateway", "problems", "ratelimit", "search-indexer"]


def run(count: int, delay_s: float, poll_s: float, base_port: int) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    settings = ServiceSettings()
    keyring = AccountsSettings().signing_keys()
    plat = Platform(
        namespace=namespace,
        base_port=free_base_port(base_port),
        env={
            "ALGOITNY_LOG_LEVEL": "WARNING",
            "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.5",
            # polling every few ms from one address: the raw per-client limit is not what is measured
            "ALGOITNY_RATE_GENERAL_PER_MIN": "1000000",
        },
    )
    prepare(plat)
    gemini = FakeGemini(delay_s=delay_s)
    executions = FakeExecutions(settings.internal_secret.get_secret_value())
    total_ms: list[float] = []
    llm_ms: list[float] = []
    overhead_ms: list[float] = []
    accept_ms: list[float] = []
    with serve_gemini(gemini), serve_executions(executions):
        plat.start_all(SERVICES)
        plat.start(
            "hints",
            {
                "ALGOITNY_EXECUTIONS_URL": executions.url,
                "ALGOITNY_GEMINI_API_KEY": "bench-key",
                "ALGOITNY_GEMINI_BASE_URL": gemini.url,
                "ALGOITNY_GEMINI_MODEL": "gemini-bench",
            },
        )
        try:
            plat.wait_ready([*SERVICES, "hints"], timeout_s=120)
            with httpx.Client(base_url=plat.url("gateway"), timeout=30) as client:
                for i in range(count + 1):  # the first one warms up connections and is not counted
                    user = f"bu{uuid.uuid4().hex[:10]}"
                    token, _ = tokens.issue(keyring, user_id=user, role="user", plan="free", ttl_s=600)
                    headers = {"authorization": f"Bearer {token}"}
                    eid = f"bx{uuid.uuid4().hex[:10]}"
                    executions.add(
                        execution_doc(
                            eid,
                            user,
                            "WA",
                            platform="bench",
                            problem_id="none",
                            language="cpp17",
                            code="int main(){int a,b;std::cin>>a>>b;std::cout<<a+b;}",
                            tests=[{"index": 0, "verdict": "WA", "input": "1 2\n", "expected": "3\n", "output": "4\n"}],
                        )
                    )
                    calls_before = gemini.calls
                    started = time.perf_counter()
                    resp = client.post(f"/api/v1/executions/{eid}/hints", headers=headers)
                    accepted = time.perf_counter()
                    if resp.status_code != 202:
                        raise RuntimeError(f"request failed: {resp.status_code} {resp.text}")
                    while True:
                        view = client.get(f"/api/v1/executions/{eid}/hints", headers=headers).json()
                        if view.get("status") == "ready":
                            break
                        if time.perf_counter() - started > 60:
                            raise RuntimeError(f"{eid}: no hints after 60 s")
                        time.sleep(poll_s)
                    done = time.perf_counter()
                    if view["source"] != "gemini" or gemini.calls != calls_before + 1:
                        raise RuntimeError(f"expected one Gemini call and gemini hints, got {view['source']}")
                    llm = gemini.requests[-1]["seconds"]
                    if i == 0:
                        continue
                    total_ms.append((done - started) * 1000)
                    accept_ms.append((accepted - started) * 1000)
                    llm_ms.append(llm * 1000)
                    overhead_ms.append((done - started - llm) * 1000)
        finally:
            plat.stop_all()
    return {
        "benchmark": "hint-request-to-attached",
        "requests": count,
        "llm_fixed_delay_ms": delay_s * 1000,
        "poll_interval_ms": poll_s * 1000,
        "post_202_ms": summary(accept_ms, pcts=(50, 90, 99), digits=1, extremes=True),
        "request_to_attached_ms": summary(total_ms, pcts=(50, 90, 99), digits=1, extremes=True),
        "llm_call_ms": summary(llm_ms, pcts=(50, 90, 99), digits=1, extremes=True),
        "overhead_beyond_llm_ms": summary(overhead_ms, pcts=(50, 90, 99), digits=1, extremes=True),
        "note": "overhead = request-to-attached minus the fake LLM's time for that request; it includes the "
        "gateway + quota charge, outbox relay wake-up, Kafka delivery, the worker (contexts over HTTP, "
        "DynamoDB), and up to one poll interval.",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--llm-delay-ms", type=float, default=300)
    parser.add_argument("--poll-ms", type=float, default=10)
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18600")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "hints_latency.json"))
    args = parser.parse_args()
    result = run(args.count, args.llm_delay_ms / 1000, args.poll_ms / 1000, args.base_port)
    write_result("hints_latency", result, args.out)


if __name__ == "__main__":
    main()
