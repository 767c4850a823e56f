"""Composition root of the executions service: history, judge, worker and the HTTP clients."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.adapters.tables import EXECUTIONS_OUTBOX
from algoitny_executions.adapters.upstreams import (
    CachedTestSetSource,
    FallbackTestSetSource,
    HttpTestSetSource,
    ProblemSource,
    ProfileSource,
    SampleTestSetSource,
)
from algoitny_executions.service_layer.executions import ExecutionService, RunService
from algoitny_executions.service_layer.hint_attacher import HintAttacher
from algoitny_executions.service_layer.judge import Judge, JudgeConfig, JudgeUnavailable, available_languages
from algoitny_executions.service_layer.sandbox_runs import SandboxRunWorker
from algoitny_executions.service_layer.worker import JudgeWorker
from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import s3
from algoitny_shared.identity import IdentitySigner
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.kit.composition import OutboxParts, outbox_parts
from algoitny_shared.topics import EXECUTION_JOBS, EXECUTIONS_GROUP, HINT_EVENTS, JUDGE_WORKER_GROUP
from algoitny_shared.upstream import upstream_client

log = logging.getLogger(__name__)
JOB_POLL_INTERVAL_MS = 30 * 60 * 1000


@dataclass
class JudgeHolder:
    """The judge is built at start-up (it compiles its runner), not at import. A judge that
    cannot run boxes safely (no usable cgroups) does not start: ``error`` says why, the
    service's readiness is false and nothing is judged here."""

    config: JudgeConfig | None
    judge: Judge | None = None
    languages: set[str] = field(default_factory=lambda: set(available_languages()))
    error: str | None = None

    def start(self) -> None:
        if self.config is not None and self.judge is None and self.error is None:
            try:
                self.judge = Judge(self.config)
            except JudgeUnavailable as exc:
                self.error = str(exc)
                log.error("the judge refuses to start: %s", exc)
                return
            self.languages = set(self.judge.languages)

    async def readiness(self) -> None:
        """Ready unless the judge was meant to run here and refused to start."""
        if self.error is not None:
            raise RuntimeError(f"the judge refused to start: {self.error}")

    def close(self) -> None:
        if self.judge is not None:
            self.judge.close()
            self.judge = None

    def get(self) -> Judge | None:
        return self.judge


@dataclass
class Container(OutboxParts[ExecutionsSettings]):
    history: HistoryRepository
    executions: ExecutionService
    runs: RunService
    worker: JudgeWorker
    consumer: EventConsumer
    judge: JudgeHolder
    http_clients: list[httpx.AsyncClient]
    worker_wanted: bool = False
    """Join the judge-workers group once the judge has started (never when it refused)."""

    def join_workers(self) -> None:
        """After the judge's start: only a started judge joins the judge-workers group."""
        if self.worker_wanted and self.judge.get() is not None:
            self.consumer.register()


def judge_config(settings: ExecutionsSettings) -> JudgeConfig | None:
    if not settings.judge_enabled or shutil.which("bwrap") is None:
        return None
    return JudgeConfig(
        work_root=Path(settings.judge_work_root) / settings.namespace,
        slots=settings.judge_slots,
        queue=settings.judge_queue,
        uid_base=settings.judge_uid_base,
        use_cgroups=settings.judge_use_cgroups,
        cgroup_prefix=f"algoitny-{settings.namespace}-{settings.judge_uid_base}",
        compile_time_limit_ms=settings.judge_compile_time_limit_ms,
        use_pch=settings.judge_use_pch,
        go=settings.judge_go or None,
        kotlin_lib=Path(settings.judge_kotlin_lib) if settings.judge_kotlin_lib else None,
    )


def build(settings: ExecutionsSettings | None = None) -> Container:
    kit = outbox_parts(settings or ExecutionsSettings(), EXECUTIONS_OUTBOX)
    settings, uow = kit.settings, kit.uow
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    problems_http = upstream_client(settings.problems_url, name="problems", timeout=settings.upstream_timeout_s)
    accounts_http = upstream_client(
        settings.accounts_url, name="accounts", timeout=min(settings.upstream_timeout_s, 2.0)
    )
    history = HistoryRepository(kit.dynamodb, settings.namespace)
    config = judge_config(settings)
    holder = JudgeHolder(config)

    def languages() -> set[str]:
        return holder.languages

    cursors = CursorCodec(settings.cursor_secret.get_secret_value())
    executions = ExecutionService(
        history, ProblemSource(problems_http, signer), ProfileSource(accounts_http, signer), uow, languages, cursors
    )
    test_sets = CachedTestSetSource(
        FallbackTestSetSource(HttpTestSetSource(problems_http, signer), SampleTestSetSource(problems_http, signer))
    )
    worker = JudgeWorker(history, test_sets, holder.get, uow, settings.progress_interval_s)
    # Sandbox runs for other services (test generators, reference solutions) share the jobs topic,
    # the judge workers and their slots: same limits and isolation as user code.
    sandbox_runs = SandboxRunWorker(s3(settings), settings.sandbox_bucket(), holder.get, uow)
    # Registered only once the judge has started (join_workers), never when it refused.
    consumer = kit.consume(
        JUDGE_WORKER_GROUP,
        [EXECUTION_JOBS],
        {**worker.handlers(), **sandbox_runs.handlers()},
        enabled=False,
        max_poll_records=1,  # one job at a time: judging takes seconds
        # A job may take longer than the default 5 min; a rebalance anyway never judges twice
        # (the worker's lease on the execution), this only makes it rare.
        max_poll_interval_ms=JOB_POLL_INTERVAL_MS,
    )
    kit.consume(
        EXECUTIONS_GROUP, [HINT_EVENTS], HintAttacher(history).handlers(), enabled=settings.attach_hints_enabled
    )
    return Container(
        **kit.fields(),
        history=history,
        executions=executions,
        runs=RunService(holder.get, languages),
        worker=worker,
        consumer=consumer,
        judge=holder,
        http_clients=[problems_http, accounts_http],
        worker_wanted=settings.worker_enabled and settings.consumers_enabled and config is not None,
    )
