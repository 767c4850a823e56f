"""Issue 23 item 6: custom runs cannot stall the executions service.

The judge runs on its own pool (one thread per slot) behind a bounded queue: a run that
finds every slot busy and the queue full is answered 503 with Retry-After at once, and the
event loop's default thread pool (which every DynamoDB and S3 call uses) stays free.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from support.judge_env import make_judge

from algoitny_executions.domain.history import NewRun
from algoitny_executions.service_layer.executions import RunService
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity

pytestmark = pytest.mark.integration

SLEEPER = "import time\ntime.sleep(1.5)\nprint('done')"
USER = Identity(user_id="u-admission", role="user")


async def _flood(runs: RunService, n: int) -> tuple[list[object], float, float]:
    """n concurrent runs; returns their outcomes, when the refusals came, and how long a
    default-pool call took meanwhile."""
    started = time.monotonic()
    refused_at: list[float] = []

    async def one() -> object:
        try:
            return await runs.run(NewRun(language="python3", code=SLEEPER, stdin=""), USER)
        except AppError as exc:
            refused_at.append(time.monotonic() - started)
            return exc

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.to_thread(lambda: None), timeout=5)
    default_pool_s = time.monotonic() - t0
    outcomes = await asyncio.gather(*tasks)
    return outcomes, max(refused_at, default=99.0), default_pool_s


def test_a_full_judge_answers_503_with_retry_after_at_once() -> None:
    judge, root = make_judge(slots=1, queue=1)
    try:
        runs = RunService(lambda: judge, lambda: set(judge.languages))
        outcomes, last_refusal_s, default_pool_s = asyncio.run(_flood(runs, 10))
        refused = [o for o in outcomes if isinstance(o, AppError)]
        served = [o for o in outcomes if not isinstance(o, AppError)]
        # one running, one waiting: the other eight are refused, without waiting for a slot
        assert len(served) == 2 and all(getattr(o, "stdout", "") == "done\n" for o in served), outcomes
        assert len(refused) == 8
        for exc in refused:
            assert exc.code is ErrorCode.UPSTREAM_UNAVAILABLE
            assert int(exc.headers["Retry-After"]) >= 1
        assert last_refusal_s < 1.0, f"refusals took {last_refusal_s:.2f} s"
        assert default_pool_s < 1.0, f"the default thread pool was stalled for {default_pool_s:.2f} s"
        assert judge.in_flight == 0
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)
