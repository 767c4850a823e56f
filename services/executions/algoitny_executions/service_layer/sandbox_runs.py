"""Sandbox runs for other services: ``executions.SandboxRunRequested`` -> run in the judge's
sandbox -> outputs in the sandbox bucket -> ``executions.SandboxRunCompleted``.

Another service (problems, for its test-case generators and reference solutions) puts the
program and its inputs in the sandbox bucket and publishes the request on the jobs topic; a
judge worker (the same consumer group, slots, limits and isolation as user code) compiles
and runs it once per input, writes every run's verdict and stdout to
``results/<run id>.json.gz`` and publishes the completion, which carries only the reference.
A redelivered request whose result object exists already is answered again without running.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from algoitny_executions.domain.judging import JudgeOptions, Limits, Submission, TestCase, TestSet, Verdict
from algoitny_executions.service_layer.judge import Judge, UnknownLanguage
from algoitny_shared.aws import AsyncS3
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import SandboxRunCompleted, SandboxRunRequested
from algoitny_shared.judge_programs import PROGRAM_FAILURE_PREFIX, JudgeProgram
from algoitny_shared.kafka import DependencyUnavailable
from algoitny_shared.uow import DynamoUnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "executions"
MAX_INPUTS = 1000


def result_key(run_id: str) -> str:
    return f"results/{run_id}.json.gz"


def pack_json(data: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(data).encode(), compresslevel=5)


def unpack_json(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


class SandboxRunWorker:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        judge: Callable[[], Judge | None],
        uow: Callable[[], DynamoUnitOfWork],
    ) -> None:
        self._s3 = AsyncS3(s3)
        self._bucket = bucket
        self._judge = judge
        self._uow = uow

    def handlers(self) -> dict[str, Any]:
        return {"executions.SandboxRunRequested": self.on_requested}

    async def _exists(self, key: str) -> bool:
        try:
            await self._s3.head_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.ClientError:
            return False
        return True

    async def on_requested(self, envelope: EventEnvelope, req: SandboxRunRequested) -> None:
        key = result_key(req.run_id)
        if await self._exists(key):
            await self._answer(req, envelope, "redelivered", key, "")
            return
        if req.expires_at is not None and datetime.now(UTC) > req.expires_at:
            # The requester stopped waiting: running it now would only hold judge slots.
            await self._answer(req, envelope, Verdict.IE.value, None, "the request expired before a judge took it")
            return
        judge = self._judge()
        if judge is None:
            raise DependencyUnavailable("the judge is not started yet")
        try:
            body = unpack_json(await self._s3.get_bytes(Bucket=self._bucket, Key=req.request_key))
            code = str(body["code"])
            inputs = [base64.b64decode(x) for x in body["inputs"]][:MAX_INPUTS]
            expected = [base64.b64decode(x) for x in body["expected"]] if req.with_expected else None
            checker_program = (
                JudgeProgram.model_validate(body["checker_program"]) if body.get("checker_program") else None
            )
            interactor = JudgeProgram.model_validate(body["interactor"]) if body.get("interactor") else None
        except self._s3.exceptions.NoSuchKey:
            await self._answer(req, envelope, Verdict.IE.value, None, "the request object is gone")
            return
        except (KeyError, ValueError, TypeError, OSError) as exc:
            await self._answer(req, envelope, Verdict.IE.value, None, f"unreadable request: {exc}"[:300])
            return
        if expected is not None and (checker_program is not None or interactor is not None):
            await self._with_programs(req, envelope, judge, code, inputs, expected, checker_program, interactor)
            return
        limits = Limits(
            time_limit_ms=min(max(req.limits.time_limit_ms, 100), 15_000),
            memory_limit_mb=min(max(req.limits.memory_limit_mb, 16), 1024),
            output_limit_kb=min(max(req.limits.output_limit_kb, 1), 65_536),
        )
        try:
            submission = Submission(language=req.language, code=code)
            report, pairs = await judge.call(
                judge.run_batch, submission, inputs, limits, expected, req.checker, req.float_tolerance
            )
        except UnknownLanguage as exc:
            await self._answer(req, envelope, Verdict.CE.value, None, str(exc))
            return
        except ValueError as exc:
            await self._answer(req, envelope, Verdict.CE.value, None, f"invalid program: {exc}"[:300])
            return
        if report is not None:
            await self._answer(req, envelope, report.verdict.value, None, report.detail, report.compile_message)
            return
        runs = [
            {
                "index": raw.index,
                "verdict": result.verdict.value,
                "detail": result.detail[:300],
                "time_ms": result.time_ms,
                "memory_kb": result.memory_kb,
                "stdout": base64.b64encode(raw.stdout).decode(),
            }
            for raw, result in pairs
        ]
        overall = next((r["verdict"] for r in runs if r["verdict"] != Verdict.AC.value), Verdict.AC.value)
        await self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=pack_json({"run_id": req.run_id, "verdict": overall, "runs": runs}),
            ContentType="application/json",
            ContentEncoding="gzip",
        )
        await self._answer(req, envelope, str(overall), key, "")

    async def _with_programs(
        self,
        req: SandboxRunRequested,
        envelope: EventEnvelope,
        judge: Judge,
        code: str,
        inputs: list[bytes],
        expected: list[bytes],
        checker_program: JudgeProgram | None,
        interactor: JudgeProgram | None,
    ) -> None:
        """A run judged by the problem's own checker or interactor (a reference solution on the samples):
        judged like a submission; outputs are not kept (an interactive program's go to the interactor)."""
        if len(expected) != len(inputs):
            await self._answer(req, envelope, Verdict.IE.value, None, "one expected output per input")
            return
        digest = hashlib.sha256()
        for data in inputs:
            digest.update(hashlib.sha256(data).digest())
        test_set = TestSet(
            problem_key=f"batch/{digest.hexdigest()}",
            version=0,
            cases=tuple(TestCase(input=i, output=o) for i, o in zip(inputs, expected, strict=True)),
        )
        limits = Limits(
            time_limit_ms=min(max(req.limits.time_limit_ms, 100), 15_000),
            memory_limit_mb=min(max(req.limits.memory_limit_mb, 16), 1024),
            output_limit_kb=min(max(req.limits.output_limit_kb, 1), 65_536),
        )
        options = JudgeOptions(checker_program=checker_program, interactor=interactor)
        try:
            submission = Submission(language=req.language, code=code)
            report = await judge.call(judge.judge, submission, test_set, limits, options)
        except (UnknownLanguage, ValueError) as exc:
            await self._answer(req, envelope, Verdict.CE.value, None, f"invalid program: {exc}"[:300])
            return
        if report.verdict == Verdict.IE:
            why = PROGRAM_FAILURE_PREFIX + report.program_failure if report.program_failure else report.detail
            await self._answer(req, envelope, Verdict.IE.value, None, why)
            return
        if report.verdict == Verdict.CE:
            await self._answer(req, envelope, Verdict.CE.value, None, report.detail, report.compile_message)
            return
        runs = [
            {
                "index": t.index,
                "verdict": t.verdict.value,
                "detail": t.detail[:300],
                "time_ms": t.time_ms,
                "memory_kb": t.memory_kb,
                "stdout": "",
            }
            for t in report.tests
        ]
        key = result_key(req.run_id)
        await self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=pack_json({"run_id": req.run_id, "verdict": report.verdict.value, "runs": runs}),
            ContentType="application/json",
            ContentEncoding="gzip",
        )
        await self._answer(req, envelope, report.verdict.value, key, "")

    async def _answer(
        self,
        req: SandboxRunRequested,
        cause: EventEnvelope,
        verdict: str,
        key: str | None,
        detail: str,
        compile_message: str = "",
    ) -> None:
        if verdict == "redelivered" and key is not None:
            raw = await self._s3.get_bytes(Bucket=self._bucket, Key=key)
            verdict = str(unpack_json(raw).get("verdict", Verdict.IE.value))
        event = REGISTRY.envelope(
            SandboxRunCompleted(
                run_id=req.run_id,
                requester=req.requester,
                verdict=verdict,
                result_key=key,
                detail=detail[:500],
                compile_message=compile_message[:4000],
                completed_at=datetime.now(UTC),
            ),
            producer=PRODUCER,
            aggregate_id=req.run_id,
            aggregate_version=1,
            trace_id=cause.trace_id,
            causation_id=str(cause.event_id),
        )
        uow = self._uow()
        uow.publish(event)
        await uow.commit()
