"""Judging with the problem's own programs: a special checker, or an interactor.

Both programs are compiled like submissions (cached by language and content hash, so a
checker version compiles once) and run in the slot's *companion* sandbox: another uid, cgroup
and directory than the contestant's box, with the limits below.

* Checker: the contestant's program runs on every test in its box as usual (limits, verdicts);
  each output that got that far is written to a host directory, and one checker box then runs
  ``checker /check/in/K /check/out/K /check/ans/K`` once per such test (the runner replaces
  ``%T`` by K). The box sees only this submission's inputs, outputs and expected answers
  (read-only). Exit codes per testlib: 0 AC, 1 WA, 2 PE (a WA saying so), anything else, a
  signal or a limit: the checker failed -> IE with ``program_failure`` (the registrar is told).
* Interactor: per test, two pipes join the contestant's box and the interactor's box (stdin
  of one is stdout of the other); both run at once, each under its runner's CPU and wall
  watchdogs; the interactor's wall limit is longer, so a contestant waiting for input that never
  comes is killed first: idleness limit exceeded (ILE). The verdict is
  :func:`algoitny_executions.domain.special.interactive_verdict`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from algoitny_executions.adapters.sandbox.bwrap import Bind, BwrapSandbox, RunSpec, SandboxError
from algoitny_executions.domain.judging import (
    FLAG_WALL_KILL,
    EffectiveLimits,
    JudgeOptions,
    JudgeReport,
    RawRun,
    Submission,
    TestResult,
    TestSet,
    Verdict,
    classify,
    overall_verdict,
)
from algoitny_executions.domain.languages import Language
from algoitny_executions.domain.special import ProgramVerdict, checker_verdict, interactive_verdict
from algoitny_shared.judge_programs import JudgeProgram

if TYPE_CHECKING:
    from algoitny_executions.service_layer.judge import Judge


@dataclass(frozen=True)
class ProgramLimits:
    """A problem program's own limits (not the contestant's)."""

    cpu_ms: int = 5000
    wall_ms: int = 10_000
    memory_mb: int = 512
    output_bytes: int = 64 * 1024
    stderr_bytes: int = 4096
    nproc: int = 64


CHECKER_LIMITS = ProgramLimits()
CHECK_ROUND_BYTES = 64 * 1024 * 1024
"""Outputs (and expected answers) held on the host for the checker before a round is checked."""
INTERACTOR_EXTRA_WALL_MS = 3000
"""The interactor outlives the contestant's wall limit by this much (the contestant idles out first)."""
INTERACTOR_GRACE_S = 1.0
"""How long the interactor may go on once the contestant's box ended; then it is killed (its failure)."""


def program_limits(judge: Judge) -> ProgramLimits:
    cpu_ms = judge.config.checker_cpu_ms
    return replace(CHECKER_LIMITS, cpu_ms=cpu_ms, wall_ms=2 * cpu_ms)


class ProgramFailed(Exception):
    """The problem's program could not be used (it does not compile): an internal error of the problem."""


def _spec(language: Language, code: str, extra_argv: list[str], inputs: list[str], limits: ProgramLimits) -> RunSpec:
    argv = [*language.run_command(code, limits.memory_mb), *extra_argv]
    return RunSpec(
        argv=argv,
        inputs=inputs,
        cpu_ms=limits.cpu_ms,
        wall_ms=limits.wall_ms,
        address_space_bytes=(limits.memory_mb + language.address_space_extra_mb) * 1024 * 1024
        if language.address_space_limit
        else 0,
        fsize_bytes=limits.output_bytes + 1,
        nproc=max(limits.nproc, language.nproc),
        stack_bytes=64 * 1024 * 1024,
        nofile=64,
        out_cap=limits.output_bytes,
        err_cap=limits.stderr_bytes,
        memory_bytes=(limits.memory_mb + language.memory_extra_mb) * 1024 * 1024 + 64 * 1024 * 1024,
    )


@contextlib.contextmanager
def _compiled(judge: Judge, aux: BwrapSandbox, program: JudgeProgram, what: str) -> Iterator[tuple[Language, Path]]:
    """The program's artifact (compiled in the companion box, cached by content hash), held meanwhile."""
    language = judge.languages.get(program.language)
    if language is None:
        raise ProgramFailed(f"the {what}'s language {program.language} is not available on this judge")
    submission = Submission(language=program.language, code=program.code)
    with judge.artifacts.hold(language.key, submission.code_hash):
        outcome = judge.compile(aux, language, submission)
        if outcome.report is not None:
            if outcome.report.verdict == Verdict.IE:
                raise SandboxError(outcome.report.detail)  # retried like any sandbox failure
            message = outcome.report.compile_message.strip().splitlines()
            raise ProgramFailed(f"the {what} does not compile: {(message[0] if message else '')[:200]}")
        assert outcome.artifact is not None
        yield language, outcome.artifact


@contextlib.contextmanager
def _host_dir(parent: Path) -> Iterator[Path]:
    """A directory the host writes (root-owned, world-readable) and a box binds read-only."""
    path = parent / f"special-{uuid.uuid4().hex}"
    os.mkdir(path, 0o755)
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o644)


def _failed(results: list[TestResult], failure: str) -> JudgeReport:
    return JudgeReport(
        verdict=Verdict.IE,
        tests=results,
        detail=f"internal error: {failure}"[:500],
        program_failure=failure[:500],
    )


def judge_with_checker(
    judge: Judge,
    sandbox: BwrapSandbox,
    aux: BwrapSandbox,
    language: Language,
    artifact: Path,
    test_set: TestSet,
    eff: EffectiveLimits,
    spec: RunSpec,
    options: JudgeOptions,
    on_test: Callable[[TestResult], None] | None,
) -> JudgeReport:
    """The program on the tests, then the checker on what it printed, in rounds: a round ends when
    the outputs waiting for the checker reach ``CHECK_ROUND_BYTES`` (so a program printing up to the
    output limit on every test never fills the host's disk), the tests run out, or a failure stops
    the submission. Each round's results are handed to ``on_test`` in test order."""
    assert options.checker_program is not None
    limits = program_limits(judge)
    total = len(test_set.cases)
    done: list[TestResult] = []
    try:
        with (
            _compiled(judge, aux, options.checker_program, "checker") as (checker_lang, checker_artifact),
            judge.test_sets.hold(test_set),
        ):
            tests_dir = judge.test_sets.materialise(test_set)
            contestant_binds = [Bind(artifact, "/prog"), Bind(tests_dir, "/tests"), *judge._mounts(language.run_mounts)]
            start = 0
            while start < total:
                with _host_dir(aux.slot_dir) as work:
                    report = _checker_round(
                        judge, sandbox, aux, language, test_set, eff, spec, options, limits, start,
                        tests_dir, contestant_binds, checker_lang, checker_artifact, work,
                    )  # fmt: skip
                if isinstance(report, JudgeReport):
                    return replace(report, tests=[*done, *report.tests]) if report.program_failure else report
                if not report:
                    break
                if on_test is not None:
                    for result in report:
                        on_test(result)
                done.extend(report)
                start += len(report)
                if options.stop_on_first_failure and any(r.verdict != Verdict.AC for r in report):
                    break
    except ProgramFailed as exc:
        return _failed(done, str(exc))
    if options.stop_on_first_failure:
        first = next((i for i, r in enumerate(done) if r.verdict != Verdict.AC), None)
        if first is not None:
            done = done[: first + 1]
    for index in range(len(done), total):
        done.append(TestResult(index=index, verdict=Verdict.SK))
    return JudgeReport(verdict=overall_verdict(done), tests=done)


def _checker_round(
    judge: Judge,
    sandbox: BwrapSandbox,
    aux: BwrapSandbox,
    language: Language,
    test_set: TestSet,
    eff: EffectiveLimits,
    spec: RunSpec,
    options: JudgeOptions,
    limits: ProgramLimits,
    start: int,
    tests_dir: Path,
    contestant_binds: list[Bind],
    checker_lang: Language,
    checker_artifact: Path,
    work: Path,
) -> list[TestResult] | JudgeReport:
    """Tests ``start``.. until the round is full: their results in order, or an IE report."""
    assert options.checker_program is not None
    for sub in ("in", "out", "ans"):
        os.mkdir(work / sub, 0o755)
        os.chmod(work / sub, 0o755)
    results: list[TestResult] = []
    pending: list[int] = []  # positions in ``results`` waiting for the checker
    held = 0

    def on_result(raw: RawRun) -> bool:
        nonlocal held
        index = start + raw.index
        result = replace(classify(raw, eff, language, raw.stdout, "exact"), index=index)  # limits and exit only
        if result.verdict == Verdict.AC:
            k = len(pending)
            _write(work / "out" / str(k), raw.stdout)
            _write(work / "ans" / str(k), test_set.cases[index].output)
            _link_or_copy(tests_dir / str(index), work / "in" / str(k))
            pending.append(len(results))
            held += len(raw.stdout) + len(test_set.cases[index].output)
        results.append(result)
        if options.stop_on_first_failure and result.verdict != Verdict.AC:
            return False
        return held < CHECK_ROUND_BYTES

    round_spec = replace(spec, inputs=[f"/tests/{i}" for i in range(start, len(test_set.cases))])
    sandbox.run(round_spec, binds=contestant_binds, on_result=on_result)
    bad = next((r for r in results if r.verdict == Verdict.IE), None)
    if bad is not None:
        return JudgeReport(verdict=Verdict.IE, tests=results, detail=bad.detail)
    if not pending:
        return results
    checker_spec = _spec(
        checker_lang,
        options.checker_program.code,
        ["/check/in/%T", "/check/out/%T", "/check/ans/%T"],
        ["-"] * len(pending),
        limits,
    )
    verdicts: list[ProgramVerdict] = []

    def on_checked(raw: RawRun) -> bool:
        verdicts.append(checker_verdict(raw, limits.cpu_ms))
        return verdicts[-1].verdict != Verdict.IE  # a failing checker stops at once

    checker_binds = [Bind(checker_artifact, "/prog"), Bind(work, "/check"), *judge._mounts(checker_lang.run_mounts)]
    aux.run(checker_spec, binds=checker_binds, on_result=on_checked)
    for k, said in enumerate(verdicts):
        if said.verdict == Verdict.IE:
            return _failed(results, said.failure)
        at = pending[k]
        results[at] = replace(results[at], verdict=said.verdict, detail=said.detail[:200])
    if len(verdicts) != len(pending):
        raise SandboxError("the checker box returned fewer runs than outputs")
    return results


def judge_interactive(
    judge: Judge,
    sandbox: BwrapSandbox,
    aux: BwrapSandbox,
    language: Language,
    artifact: Path,
    test_set: TestSet,
    eff: EffectiveLimits,
    spec: RunSpec,
    options: JudgeOptions,
    on_test: Callable[[TestResult], None] | None,
) -> JudgeReport:
    assert options.interactor is not None
    results: list[TestResult] = []
    try:
        with (
            _compiled(judge, aux, options.interactor, "interactor") as (inter_lang, inter_artifact),
            judge.test_sets.hold(test_set),
            _host_dir(aux.slot_dir) as work,
        ):
            tests_dir = judge.test_sets.materialise(test_set)
            own = program_limits(judge)
            limits = replace(own, cpu_ms=max(own.cpu_ms, eff.cpu_ms), wall_ms=eff.wall_ms + INTERACTOR_EXTRA_WALL_MS)
            for index, case in enumerate(test_set.cases):
                _write(work / str(index), case.output)
                inter_spec = _spec(
                    inter_lang,
                    options.interactor.code,
                    [f"/tests/{index}", "/box/tout", f"/ans/{index}"],
                    ["-"],
                    limits,
                )
                inter_binds = [
                    Bind(inter_artifact, "/prog"),
                    Bind(tests_dir, "/tests"),
                    Bind(work, "/ans"),
                    *judge._mounts(inter_lang.run_mounts),
                ]
                contestant_binds = [Bind(artifact, "/prog"), *judge._mounts(language.run_mounts)]
                raw, inter = _interact(sandbox, aux, spec, contestant_binds, inter_spec, inter_binds)
                raw = replace(raw, index=index)  # each box ran one test, its index 0
                inter = replace(inter, index=index)
                contestant = classify(raw, eff, language, raw.stdout, "exact")
                if contestant.verdict == Verdict.IE:
                    return JudgeReport(verdict=Verdict.IE, tests=results, detail=contestant.detail)
                result = interactive_verdict(contestant, raw, inter, limits.cpu_ms)
                if result.verdict == Verdict.IE:
                    return _failed(results, result.detail.removeprefix("internal error: "))
                results.append(result)
                if on_test is not None:
                    on_test(result)
                if options.stop_on_first_failure and result.verdict != Verdict.AC:
                    break
    except ProgramFailed as exc:
        return _failed(results, str(exc))
    for index in range(len(results), len(test_set.cases)):
        results.append(TestResult(index=index, verdict=Verdict.SK))
    return JudgeReport(verdict=overall_verdict(results), tests=results)


def _interact(
    sandbox: BwrapSandbox,
    aux: BwrapSandbox,
    spec: RunSpec,
    contestant_binds: list[Bind],
    inter_spec: RunSpec,
    inter_binds: list[Bind],
) -> tuple[RawRun, RawRun]:
    """One test: both boxes at once, joined by two pipes. Returns (contestant run, interactor run)."""
    to_contestant_r, to_contestant_w = os.pipe()
    to_interactor_r, to_interactor_w = os.pipe()
    contestant_spec = replace(spec, inputs=[f"|{to_contestant_r} {to_interactor_w}"])
    inter_spec = replace(inter_spec, inputs=[f"|{to_interactor_r} {to_contestant_w}"])
    outcome: dict[str, list[RawRun] | BaseException] = {}

    def run_interactor() -> None:
        try:
            outcome["interactor"] = aux.run(
                inter_spec,
                binds=inter_binds,
                pass_fds=(to_interactor_r, to_contestant_w),
            )
        except BaseException as exc:  # handed to the caller below
            outcome["interactor"] = exc

    thread = threading.Thread(target=run_interactor, name="interactor", daemon=True)
    thread.start()
    killed = False
    try:
        contestant = sandbox.run(contestant_spec, binds=contestant_binds, pass_fds=(to_contestant_r, to_interactor_w))
    finally:
        thread.join(INTERACTOR_GRACE_S)
        while thread.is_alive():  # it outlived the program by the grace period: its own fault
            killed = aux.kill() or killed
            thread.join(0.05)
    inter = outcome.get("interactor")
    if killed and not (inter and isinstance(inter, list)):
        # The contestant's box ended and the interactor did not: a hung interactor.
        inter = [
            RawRun(
                index=0,
                kind="S",
                code=9,
                cpu_us=0,
                wall_us=0,
                maxrss_kb=0,
                flags=FLAG_WALL_KILL,
                stdout=b"",
                stderr=b"",
            )
        ]
    if isinstance(inter, BaseException):
        raise SandboxError(f"the interactor's box failed: {inter}") from inter
    if not inter or not contestant:
        raise SandboxError("a box of the interactive run returned no run")
    return contestant[0], inter[0]
