"""Sandbox runs for other services never outlive their requester's wait (issue 23, item 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from algoitny_executions.domain.judging import EffectiveLimits, Limits
from algoitny_executions.domain.languages import LANGUAGES
from algoitny_executions.service_layer.sandbox_runs import SandboxRunWorker
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import SandboxLimits, SandboxRunRequested


@pytest.mark.parametrize("time_limit_ms", [100, 300, 2000, 15_000])
def test_no_language_runs_longer_than_the_worst_case_requesters_wait_for(time_limit_ms: int) -> None:
    bound_ms = SandboxLimits(time_limit_ms=time_limit_ms).worst_case_run_s() * 1000
    for language in LANGUAGES.values():
        assert EffectiveLimits.of(Limits(time_limit_ms=time_limit_ms), language).wall_ms <= bound_ms, language


class _S3:
    class exceptions:
        class ClientError(Exception):
            pass

    def head_object(self, **_: Any) -> None:
        raise self.exceptions.ClientError()


class _Uow:
    def __init__(self, published: list[EventEnvelope]) -> None:
        self._published = published

    def publish(self, event: EventEnvelope) -> None:
        self._published.append(event)

    async def commit(self) -> None:
        pass


async def test_an_expired_request_is_answered_without_running() -> None:
    published: list[EventEnvelope] = []

    def judge() -> None:
        raise AssertionError("an expired request must not reach the judge")

    worker = SandboxRunWorker(_S3(), "bucket", judge, lambda: _Uow(published))  # type: ignore[arg-type,return-value]
    now = datetime.now(UTC)
    req = SandboxRunRequested(
        run_id="job.1.1.gen-0",
        requester="problems",
        language="python3",
        input_count=50,
        request_key="requests/job.1.1.gen-0.json.gz",
        requested_at=now - timedelta(seconds=301),
        expires_at=now - timedelta(seconds=1),
    )
    envelope = REGISTRY.envelope(req, producer="problems", aggregate_id=req.run_id, aggregate_version=1)
    await worker.on_requested(envelope, req)
    [answer] = published
    assert answer.payload["verdict"] == "IE" and "expired" in answer.payload["detail"]
