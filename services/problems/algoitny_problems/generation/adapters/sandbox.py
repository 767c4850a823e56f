"""Programs run in the judge's sandbox, through the jobs topic (never in this process).

A run puts the program and its inputs gzipped in the sandbox bucket, publishes
``executions.SandboxRunRequested`` through the outbox and waits for its answer,
``executions.SandboxRunCompleted``, without polling: the generation process delivers every
answer meant for this service to :class:`SandboxAnswers`, which wakes the run waiting for it
(each generation process follows the answers as they come, whichever process the consumer
group gave them to). The group's consumer also files each answer durably as a Control item
``SANDBOXRUN#<run id>`` (:class:`SandboxMailbox`), read once before a run is requested (a
predecessor asked, then died) and once more when the wait times out (an answer this process
missed). Run ids are deterministic per job, life, attempt and step.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from algoitny_problems.adapters.s3_objects import delete_prefix
from algoitny_shared.aws import AsyncDynamoDB, AsyncS3
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import SandboxLimits, SandboxRunCompleted, SandboxRunRequested
from algoitny_shared.judge_programs import JudgeProgram
from algoitny_shared.uow import DynamoUnitOfWork

log = logging.getLogger(__name__)
REQUESTER = "problems"
MAILBOX_TTL_S = 24 * 3600
COMPILE_ALLOWANCE_S = 60.0  # compiling (cached after the first run) and moving inputs in and out


def mailbox_pk(run_id: str) -> str:
    return f"SANDBOXRUN#{run_id}"


class SandboxUnavailable(Exception):
    """No answer in time, or the sandbox failed internally: worth another attempt later."""


class Abandoned(Exception):
    """The waiting worker lost its job (lease gone, cancelled): stop at once."""


@dataclass(frozen=True)
class RunOutput:
    index: int
    verdict: str
    detail: str
    stdout: bytes
    time_ms: int = 0


@dataclass(frozen=True)
class SandboxOutcome:
    verdict: str  # AC, or CE/IE for the whole run, or the first failing run's verdict
    detail: str = ""
    compile_message: str = ""
    runs: list[RunOutput] = field(default_factory=list)


class Sandbox(Protocol):
    async def run(
        self,
        run_id: str,
        language: str,
        code: str,
        inputs: Sequence[bytes],
        limits: SandboxLimits,
        *,
        expected: Sequence[bytes] | None = None,
        checker: str = "tokens",
        float_tolerance: float | None = None,
        abandoned: asyncio.Event | None = None,
        checker_program: JudgeProgram | None = None,
        interactor: JudgeProgram | None = None,
    ) -> SandboxOutcome: ...


def _answer_of(done: SandboxRunCompleted) -> dict[str, Any]:
    return {
        "verdict": done.verdict,
        "result_key": done.result_key,
        "detail": done.detail,
        "compile_message": done.compile_message,
    }


class SandboxAnswers:
    """Where the answers of this process's waiting runs arrive: a run registers before its request
    is published (so no answer can come first), and the events resolve it."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.delivered = 0

    def expect(self, run_id: str) -> asyncio.Future[dict[str, Any]]:
        future = self._waiting.get(run_id)
        if future is None or future.done():
            future = self._waiting[run_id] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, run_id: str) -> None:
        self._waiting.pop(run_id, None)

    def deliver(self, done: SandboxRunCompleted) -> bool:
        """Wake the run waiting for this answer, if it waits in this process."""
        future = self._waiting.get(done.run_id)
        if future is None or future.done():
            return False
        future.set_result(_answer_of(done))
        self.delivered += 1
        return True

    @property
    def waiting(self) -> int:
        return len(self._waiting)


def _gz_json(data: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(data).encode(), compresslevel=5)


class KafkaSandbox:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        dynamodb: Any,
        control_table: str,
        uow: Callable[[], DynamoUnitOfWork],
        answers: SandboxAnswers,
        *,
        timeout_s: float = 300.0,
    ) -> None:
        self._answers = answers
        self._s3 = AsyncS3(s3)
        self._bucket = bucket
        self._db = AsyncDynamoDB(dynamodb)
        self._control = control_table
        self._uow = uow
        self._timeout = timeout_s

    async def _answer(self, run_id: str) -> dict[str, Any] | None:
        resp = await self._db.get_item(
            TableName=self._control, Key={"pk": {"S": mailbox_pk(run_id)}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return from_item(item) if item else None

    async def run(
        self,
        run_id: str,
        language: str,
        code: str,
        inputs: Sequence[bytes],
        limits: SandboxLimits,
        *,
        expected: Sequence[bytes] | None = None,
        checker: str = "tokens",
        float_tolerance: float | None = None,
        abandoned: asyncio.Event | None = None,
        checker_program: JudgeProgram | None = None,
        interactor: JudgeProgram | None = None,
    ) -> SandboxOutcome:
        answer = await self._answer(run_id)
        if answer is None:
            waiting = self._answers.expect(run_id)  # before the request: no answer can come first
            try:
                requested_at = datetime.now(UTC)
                # A judge must start the run within the timeout (else it is dropped unrun); once started
                # it ends within its worst case. Waiting for both, a job never retries while its earlier
                # run may still be queued or running (and holding judge slots).
                expires_at = requested_at + timedelta(seconds=self._timeout)
                wait_s = self._timeout + len(inputs) * limits.worst_case_run_s() + COMPILE_ALLOWANCE_S
                request_key = f"requests/{run_id}.json.gz"
                body = {
                    "code": code,
                    "inputs": [base64.b64encode(x).decode() for x in inputs],
                    "expected": [base64.b64encode(x).decode() for x in expected] if expected is not None else None,
                    # With expected outputs: the problem's own checker or interactor judges each run.
                    "checker_program": checker_program.model_dump() if checker_program else None,
                    "interactor": interactor.model_dump() if interactor else None,
                }
                await self._s3.put_object(
                    Bucket=self._bucket, Key=request_key, Body=_gz_json(body), ContentEncoding="gzip"
                )
                uow = self._uow()
                uow.publish(
                    REGISTRY.envelope(
                        SandboxRunRequested(
                            run_id=run_id,
                            requester=REQUESTER,
                            language=language,
                            input_count=len(inputs),
                            request_key=request_key,
                            limits=limits,
                            with_expected=expected is not None,
                            checker=checker,
                            float_tolerance=float_tolerance,
                            requested_at=requested_at,
                            expires_at=expires_at,
                        ),
                        producer=REQUESTER,
                        aggregate_id=run_id,
                        aggregate_version=1,
                    )
                )
                await uow.commit()
                answer = await self._wait(run_id, waiting, wait_s, abandoned)
            finally:
                self._answers.forget(run_id)
        verdict = str(answer.get("verdict", "IE"))
        outcome = SandboxOutcome(
            verdict=verdict,
            detail=str(answer.get("detail", "")),
            compile_message=str(answer.get("compile_message", "")),
        )
        key = answer.get("result_key")
        if not key:
            return outcome
        obj = await self._s3.get_object(Bucket=self._bucket, Key=key)
        data = json.loads(gzip.decompress(obj["Body"].read()))
        runs = [
            RunOutput(
                index=int(r["index"]),
                verdict=str(r["verdict"]),
                detail=str(r.get("detail", "")),
                stdout=base64.b64decode(r.get("stdout", "")),
                time_ms=int(r.get("time_ms", 0)),
            )
            for r in data.get("runs", [])
        ]
        return SandboxOutcome(verdict, outcome.detail, outcome.compile_message, sorted(runs, key=lambda r: r.index))

    async def _wait(
        self, run_id: str, waiting: asyncio.Future[dict[str, Any]], wait_s: float, abandoned: asyncio.Event | None
    ) -> dict[str, Any]:
        """The run's answer as its event brings it (no polling); Abandoned as soon as the job is lost."""
        watched: set[asyncio.Future[Any]] = {waiting}
        lost = asyncio.ensure_future(abandoned.wait()) if abandoned is not None else None
        if lost is not None:
            watched.add(lost)
        try:
            await asyncio.wait(watched, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if lost is not None:
                lost.cancel()
        if waiting.done():
            return waiting.result()
        if abandoned is not None and abandoned.is_set():
            raise Abandoned(run_id)
        # No answer reached this process in time: the group's consumer may still have filed one.
        answer = await self._answer(run_id)
        if answer is None:
            raise SandboxUnavailable(f"no answer from the sandbox within {wait_s:.0f} s")
        log.warning("sandbox run %s: answer found filed, its event never reached this process", run_id)
        return answer


class SandboxObjects:
    """The objects sandbox runs leave in the sandbox bucket: ``requests/<run id>.json.gz`` (program
    and inputs) and ``results/<run id>.json.gz`` (outputs). Run ids start with the job id."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = AsyncS3(s3)
        self._bucket = bucket

    async def delete_run(self, run_id: str) -> None:
        await self._s3.delete_keys(self._bucket, [f"requests/{run_id}.json.gz", f"results/{run_id}.json.gz"])

    async def delete_job(self, job_id: str) -> int:
        """Every request and result object of one job's runs (any life, attempt or step)."""
        deleted = 0
        for prefix in (f"requests/{job_id}.", f"results/{job_id}."):
            deleted += await delete_prefix(self._s3, self._bucket, prefix)
        return deleted


class SandboxMailbox:
    """The consumer group's handler of ``executions.SandboxRunCompleted``: files each answer meant
    for this service (durably, for a run that missed its event) and wakes its run if it waits here."""

    def __init__(self, dynamodb: Any, control_table: str, answers: SandboxAnswers | None = None) -> None:
        self._db = AsyncDynamoDB(dynamodb)
        self._control = control_table
        self._answers = answers

    def handlers(self) -> dict[str, Any]:
        return {"executions.SandboxRunCompleted": self.on_completed}

    async def on_completed(self, envelope: EventEnvelope, done: SandboxRunCompleted) -> None:
        if done.requester != REQUESTER:
            return
        if done.completed_at < datetime.now(UTC) - timedelta(seconds=MAILBOX_TTL_S):
            return  # older than any run still waiting (a new group reading the topic from its start)
        item = {
            "pk": mailbox_pk(done.run_id),
            "kind": "sandbox_answer",
            **_answer_of(done),
            "expires_at": int(time.time()) + MAILBOX_TTL_S,
        }
        await self._db.put_item(TableName=self._control, Item=to_item(item))
        if self._answers is not None:
            self._answers.deliver(done)
