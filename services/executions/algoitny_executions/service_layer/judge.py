"""Judging use case: compile once (cached), run every test in one box, classify, retry IE.

``Judge`` owns a pool of sandbox slots (one uid, cgroup and directory each); a call to
:meth:`Judge.judge` takes a free slot for the whole submission. Blocking: async callers go
through :meth:`Judge.call`, which runs it on the judge's own thread pool (one thread per
slot, never the event loop's shared default pool) behind a bounded queue: an interactive
call (``POST /runs``) that finds every slot busy and ``queue`` calls waiting is refused at
once with :class:`JudgeBusy` (503 + Retry-After) instead of waiting without a bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import math
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from algoitny_executions.adapters.cache import ArtifactCache, TestSetCache
from algoitny_executions.adapters.sandbox import cgroups, safe_fs
from algoitny_executions.adapters.sandbox.build import build_runner
from algoitny_executions.adapters.sandbox.bwrap import Bind, BwrapSandbox, RunSpec, SandboxError
from algoitny_executions.adapters.sandbox.toolchains import Toolchains
from algoitny_executions.domain.judging import (
    COMPILE_MESSAGE_KEEP_BYTES,
    FLAG_CWD_QUOTA_KILL,
    FLAG_OUTPUT_KILL,
    FLAG_STDERR_OVER,
    FLAG_STDOUT_OVER,
    EffectiveLimits,
    JudgeOptions,
    JudgeReport,
    Limits,
    RawRun,
    Submission,
    TestCase,
    TestResult,
    TestSet,
    Verdict,
    classify,
    overall_verdict,
    signal_name,
)
from algoitny_executions.domain.languages import LANGUAGES, Language
from algoitny_executions.service_layer.special_judge import judge_interactive, judge_with_checker

log = logging.getLogger(__name__)

COMPILE_WALL_FACTOR = 1.5
COMPILE_OUTPUT_CAP = 64 * 1024
COMPILE_FSIZE = 256 * 1024 * 1024
COMPILE_BOX_BYTES = 512 * 1024 * 1024
STDERR_CAP = 8 * 1024
CDS_MOUNT = "kotlin-cds"
CDS_FILE = "kotlinc.jsa"
CDS_PROGRAM = "fun main() {\n    val n = readLine()!!.trim().split(' ').map { it.toLong() }\n    println(n.sum())\n}\n"


T = TypeVar("T")


class UnknownLanguage(ValueError):
    pass


class JudgeUnavailable(RuntimeError):
    """The judge cannot run boxes safely on this host (e.g. no usable cgroups): it does not start."""


class JudgeBusy(RuntimeError):
    """Every slot is busy and the queue is full: come back in ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the judge is busy; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class JudgeConfig:
    work_root: Path
    """Must be reachable (execute bit on every ancestor) by the slot uids, e.g. under /var/tmp."""
    slots: int = 2
    uid_base: int = 60000
    bwrap: str = "/usr/bin/bwrap"
    use_cgroups: bool = True
    """False runs boxes with rlimits only (no box-wide memory/pids caps): an explicit, logged opt-out."""
    cgroup_prefix: str = "algoitny"
    cgroup_root: Path = cgroups.CGROUP_ROOT
    proc_self_cgroup: Path = cgroups.PROC_SELF_CGROUP
    box_cpus: float | None = 2.0
    """CPU bandwidth of one box (cgroup v2 cpu.max), so a box of CPU burners cannot take the host."""
    max_attempts: int = 2
    compile_time_limit_ms: int | None = None
    """Caps every language's compile CPU time (tests use a low cap to keep compile bombs short)."""
    queue: int = 4
    """Interactive calls that may wait for a slot; one more is refused with JudgeBusy."""
    compile_box_bytes: int = COMPILE_BOX_BYTES
    """Disk space a compile may fill in its box (a host directory, unlike the runs' tmpfs)."""
    checker_cpu_ms: int = 5000
    """CPU time of one run of a problem's checker or interactor (wall: twice that)."""
    toolchain_dir: Path | None = None
    """Prepared toolchains (Go's standard library, Kotlin's jars, precompiled headers), content-keyed
    so judges may share it; default: ``toolchains`` beside the work root."""
    use_pch: bool = True
    """Precompile ``bits/stdc++.h`` per C++ language at start and compile with it."""
    go: str | None = None
    """The ``go`` command whose compiler and standard library Go submissions use (default: found)."""
    kotlin_lib: Path | None = None
    """Directory of the Kotlin compiler's jars (default: ``$ALGOITNY_LOCAL_DIR/kotlin/lib``)."""


@dataclass
class CompileOutcome:
    artifact: Path | None
    report: JudgeReport | None = None
    cached: bool = False


def available_languages(
    languages: dict[str, Language] = LANGUAGES, mounts: set[str] | None = None
) -> dict[str, Language]:
    """The registry's languages whose toolchain binaries exist on this host (and, given the
    prepared toolchain mounts, whose mounts are among them)."""
    return {
        key: lang
        for key, lang in languages.items()
        if all(os.access(b, os.X_OK) for b in lang.requires)
        and (mounts is None or set(lang.compile_mounts + lang.run_mounts) <= mounts)
    }


class Judge:
    def __init__(self, config: JudgeConfig, languages: dict[str, Language] | None = None) -> None:
        self.config = config
        root = config.work_root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o711)
        candidates = languages if languages is not None else available_languages()
        self.toolchains = Toolchains(
            config.toolchain_dir or root.parent / "toolchains", go=config.go, kotlin_lib=config.kotlin_lib
        )
        self.toolchains.prepare(
            {m for lang in candidates.values() for m in lang.compile_mounts + lang.run_mounts},
            [lang.pch_flags for lang in candidates.values() if lang.pch_flags and config.use_pch],
        )
        self.languages = available_languages(candidates, set(self.toolchains.mounts))
        self.runner = build_runner(root / "bin")
        self.artifacts = ArtifactCache(root / "artifacts")
        self.test_sets = TestSetCache(root / "tests")
        self.sandboxes: list[BwrapSandbox] = []
        self._free: queue.Queue[BwrapSandbox] = queue.Queue()
        if not config.use_cgroups:
            log.warning(
                "the judge runs WITHOUT cgroups (ALGOITNY_JUDGE_USE_CGROUPS=false): boxes have per-process "
                "rlimits only, no box-wide memory, pids or CPU caps"
            )
        for slot in range(config.slots):
            slot_dir = root / f"slot-{slot}"
            slot_dir.mkdir(exist_ok=True)
            os.chmod(slot_dir, 0o711)
            cg = self._cgroup(f"{config.cgroup_prefix}-slot-{slot}") if config.use_cgroups else None
            sandbox = BwrapSandbox(
                slot=slot,
                slot_dir=slot_dir,
                runner=self.runner,
                bwrap=config.bwrap,
                uid=config.uid_base + slot,
                cgroup=cg,
                box_cpus=config.box_cpus,
            )
            self.sandboxes.append(sandbox)
            self._free.put(sandbox)
        # Each slot's companion box (its own uid, cgroup and directory) runs the problem's checker or
        # interactor, never in the contestant's box: uids uid_base + slots .. uid_base + 2 * slots - 1.
        self.companions: list[BwrapSandbox] = []
        for slot in range(config.slots):
            aux_dir = root / f"slot-{slot}-aux"
            aux_dir.mkdir(exist_ok=True)
            os.chmod(aux_dir, 0o711)
            cg = self._cgroup(f"{config.cgroup_prefix}-slot-{slot}-aux") if config.use_cgroups else None
            self.companions.append(
                BwrapSandbox(
                    slot=slot,
                    slot_dir=aux_dir,
                    runner=self.runner,
                    bwrap=config.bwrap,
                    uid=config.uid_base + config.slots + slot,
                    cgroup=cg,
                    box_cpus=config.box_cpus,
                )
            )
        self._warm_kotlin_compiler()
        self._pool = ThreadPoolExecutor(max_workers=config.slots, thread_name_prefix="judge")
        self._admission = threading.Lock()
        self._in_flight = 0
        self._mean_call_s = 1.0

    def _cgroup(self, name: str) -> cgroups.CgroupSlot:
        try:
            return cgroups.detect(name, self.config.cgroup_root, self.config.proc_self_cgroup)
        except cgroups.CgroupsUnavailable as exc:
            self.close()
            raise JudgeUnavailable(
                "no usable cgroups, so boxes would have no memory or pids cap: give the service a delegated "
                f"cgroup v2 subtree with the memory and pids controllers, or writable v1 ones ({exc})"
            ) from exc

    @property
    def in_flight(self) -> int:
        """Calls running or waiting on the judge's pool."""
        return self._in_flight

    async def call(self, fn: Callable[..., T], *args: Any, interactive: bool = False) -> T:
        """Run a blocking judge method on the judge's own pool.

        Interactive calls are refused with :class:`JudgeBusy` when every slot is busy and
        ``queue`` calls wait already; background jobs (one per worker at a time) always queue."""
        capacity = self.config.slots + self.config.queue
        with self._admission:
            if interactive and self._in_flight >= capacity:
                waves = (self._in_flight - self.config.slots) // self.config.slots + 1
                raise JudgeBusy(max(1, min(60, math.ceil(self._mean_call_s * waves))))
            self._in_flight += 1
        started = time.monotonic()

        def release(_: Future[T]) -> None:
            with self._admission:
                self._in_flight -= 1
                self._mean_call_s = 0.8 * self._mean_call_s + 0.2 * (time.monotonic() - started)

        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            with self._admission:
                self._in_flight -= 1
            raise
        future.add_done_callback(release)
        return await asyncio.wrap_future(future)

    @property
    def cgroups_enabled(self) -> bool:
        return any(s.cgroup is not None for s in self.sandboxes)

    def close(self) -> None:
        if hasattr(self, "_pool"):
            self._pool.shutdown(wait=False, cancel_futures=True)
        for sandbox in [*self.sandboxes, *getattr(self, "companions", [])]:
            if sandbox.cgroup is not None:
                sandbox.cgroup.remove()

    @contextmanager
    def _slot(self, language: Language, submission: Submission) -> Iterator[BwrapSandbox]:
        """A free sandbox; the submission's compiled artifact is held (not evicted) meanwhile."""
        with self.artifacts.hold(language.key, submission.code_hash):
            sandbox = self._free.get()
            try:
                yield sandbox
            finally:
                self._free.put(sandbox)

    def _mounts(self, names: Sequence[str]) -> list[Bind]:
        return [Bind(self.toolchains.mounts[name], f"/opt/{name}") for name in names]

    def _run_tests(
        self,
        sandbox: BwrapSandbox,
        language: Language,
        spec: RunSpec,
        artifact: Path,
        test_set: TestSet,
        on_result: Callable[[RawRun], bool] | None = None,
    ) -> list[RawRun]:
        """Run the artifact on the test set's inputs, the inputs held (not evicted) meanwhile."""
        with self.test_sets.hold(test_set):
            tests_dir = self.test_sets.materialise(test_set)
            binds = [Bind(artifact, "/prog"), Bind(tests_dir, "/tests"), *self._mounts(language.run_mounts)]
            return sandbox.run(spec, binds=binds, on_result=on_result)

    async def judge_async(
        self,
        submission: Submission,
        test_set: TestSet,
        limits: Limits | None = None,
        options: JudgeOptions | None = None,
        on_test: Callable[[TestResult], None] | None = None,
    ) -> JudgeReport:
        return await self.call(self.judge, submission, test_set, limits, options, on_test)

    def judge(
        self,
        submission: Submission,
        test_set: TestSet,
        limits: Limits | None = None,
        options: JudgeOptions | None = None,
        on_test: Callable[[TestResult], None] | None = None,
    ) -> JudgeReport:
        """Judge a submission; an internal error is retried, then reported as IE."""
        language = self.languages.get(submission.language)
        if language is None:
            raise UnknownLanguage(f"unknown or unavailable language {submission.language!r}")
        limits = limits or Limits()
        options = options or JudgeOptions()
        last_error = ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                with self._slot(language, submission) as sandbox:
                    report = self._judge_once(sandbox, language, submission, test_set, limits, options, on_test)
                report.attempts = attempt
                if report.verdict != Verdict.IE or report.program_failure:
                    return report  # the problem's own program failing is not retried: it is reported
                last_error = report.detail
            except (SandboxError, OSError) as exc:
                log.warning("judge attempt %d failed: %s", attempt, exc)
                last_error = str(exc)
        return JudgeReport(verdict=Verdict.IE, detail=f"internal error: {last_error}"[:500], attempts=attempt)

    def run_custom(
        self, submission: Submission, stdin: bytes, limits: Limits | None = None
    ) -> tuple[JudgeReport | None, RawRun | None, TestResult | None]:
        """Compile (cached) and run once on ``stdin`` in a box; no expected output.

        Returns (a CE/IE report, None, None) when there is nothing to run, else
        (None, the raw run, its classification with an always-accepting checker)."""
        language = self.languages.get(submission.language)
        if language is None:
            raise UnknownLanguage(f"unknown or unavailable language {submission.language!r}")
        limits = limits or Limits()
        last_error = ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                with self._slot(language, submission) as sandbox:
                    outcome = self.compile(sandbox, language, submission)
                    if outcome.report is not None:
                        if outcome.report.verdict != Verdict.IE:
                            return outcome.report, None, None
                        last_error = outcome.report.detail
                        continue
                    assert outcome.artifact is not None
                    digest = hashlib.sha256(stdin).hexdigest()
                    test_set = TestSet(
                        problem_key=f"run/{digest}", version=0, cases=(TestCase(input=stdin, output=b""),)
                    )
                    eff = EffectiveLimits.of(limits, language)
                    spec = self._run_spec(language, eff, 1, submission.code)
                    (raw,) = self._run_tests(sandbox, language, spec, outcome.artifact, test_set)
                result = classify(raw, eff, language, raw.stdout, "exact")
                if result.verdict == Verdict.IE:
                    last_error = result.detail
                    continue
                return None, raw, result
            except (SandboxError, OSError) as exc:
                log.warning("run attempt %d failed: %s", attempt, exc)
                last_error = str(exc)
        return JudgeReport(verdict=Verdict.IE, detail=f"internal error: {last_error}"[:500]), None, None

    def run_batch(
        self,
        submission: Submission,
        inputs: Sequence[bytes],
        limits: Limits | None = None,
        expected: Sequence[bytes] | None = None,
        checker: str = "tokens",
        float_tolerance: float | None = None,
    ) -> tuple[JudgeReport | None, list[tuple[RawRun, TestResult]]]:
        """Compile (cached) and run the program once per input in one box (a sandbox run for other
        services: test generators, reference solutions, validators).

        Returns (a CE/IE report, []) when there is nothing to run, else (None, one (raw run,
        classification) per input in order). Without ``expected`` every run that exits cleanly
        within the limits is AC; with it, the checker judges each output."""
        language = self.languages.get(submission.language)
        if language is None:
            raise UnknownLanguage(f"unknown or unavailable language {submission.language!r}")
        if expected is not None and len(expected) != len(inputs):
            raise ValueError("one expected output per input")
        limits = limits or Limits()
        check_name = checker if checker in ("tokens", "lines", "exact", "float") else "tokens"
        last_error = ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                with self._slot(language, submission) as sandbox:
                    outcome = self.compile(sandbox, language, submission)
                    if outcome.report is not None:
                        if outcome.report.verdict != Verdict.IE:
                            return outcome.report, []
                        last_error = outcome.report.detail
                        continue
                    assert outcome.artifact is not None
                    if not inputs:
                        return None, []
                    digest = hashlib.sha256()
                    for data in inputs:
                        digest.update(hashlib.sha256(data).digest())
                    test_set = TestSet(
                        problem_key=f"batch/{digest.hexdigest()}",
                        version=0,
                        cases=tuple(TestCase(input=data, output=b"") for data in inputs),
                    )
                    eff = EffectiveLimits.of(limits, language)
                    spec = self._run_spec(language, eff, len(inputs), submission.code)
                    raws = self._run_tests(sandbox, language, spec, outcome.artifact, test_set)
                pairs: list[tuple[RawRun, TestResult]] = []
                for raw in raws:
                    if expected is None:
                        result = classify(raw, eff, language, raw.stdout, "exact")
                    else:
                        result = classify(
                            raw,
                            eff,
                            language,
                            expected[raw.index],
                            check_name,  # type: ignore[arg-type]
                            float_tolerance,
                        )
                    pairs.append((raw, result))
                bad = next((r for _, r in pairs if r.verdict == Verdict.IE), None)
                if bad is not None or len(pairs) != len(inputs):
                    last_error = bad.detail if bad else "the sandbox returned fewer runs than inputs"
                    continue
                return None, pairs
            except (SandboxError, OSError) as exc:
                log.warning("batch run attempt %d failed: %s", attempt, exc)
                last_error = str(exc)
        return JudgeReport(verdict=Verdict.IE, detail=f"internal error: {last_error}"[:500]), []

    @staticmethod
    def _run_spec(language: Language, eff: EffectiveLimits, n_inputs: int, code: str) -> RunSpec:
        argv = list(language.run_command(code, eff.heap_mb))
        return RunSpec(
            argv=argv,
            inputs=[f"/tests/{i}" for i in range(n_inputs)],
            cpu_ms=eff.cpu_ms,
            wall_ms=eff.wall_ms,
            address_space_bytes=eff.address_space_bytes,
            fsize_bytes=eff.output_bytes + 1,
            nproc=eff.nproc,
            stack_bytes=eff.stack_bytes,
            nofile=eff.nofile,
            out_cap=eff.output_bytes,
            err_cap=STDERR_CAP,
            memory_bytes=eff.memory_kb * 1024 + 64 * 1024 * 1024,
        )

    # -- steps -----------------------------------------------------------------------------

    def _compile_spec(self, language: Language, argv: Sequence[str], compile_ms: int) -> RunSpec:
        return RunSpec(
            argv=argv,
            inputs=["-"],
            cpu_ms=compile_ms,
            wall_ms=max(int(compile_ms * COMPILE_WALL_FACTOR), compile_ms + 2000),
            scratch="-",
            address_space_bytes=(language.compile_address_space_mb or 0) * 1024 * 1024,
            fsize_bytes=COMPILE_FSIZE,
            nproc=max(64, language.nproc),
            stack_bytes=64 * 1024 * 1024,
            nofile=256,
            out_cap=COMPILE_OUTPUT_CAP,
            err_cap=COMPILE_OUTPUT_CAP,
            memory_bytes=language.compile_memory_mb * 1024 * 1024,
            cwd_quota_bytes=self.config.compile_box_bytes,
        )

    def _warm_kotlin_compiler(self) -> None:
        """Dump a class-data-sharing archive of the Kotlin compiler, once per compiler and JVM.

        Kotlin's compiler is a cold JVM per submission; a long-lived compile server would be shared
        by submissions (one compile could leave state for the next), so instead its loaded classes
        are archived: every compile maps them instead of loading and verifying ~10k classes. The
        archive records the in-box class path, so it is dumped in a box (same mounts) compiling a
        fixed program, then copied out without following links. Failure only costs speed."""
        language = self.languages.get("kotlin")
        kotlin = self.toolchains.mounts.get("kotlin")
        if language is None or kotlin is None or not self.sandboxes:
            return
        try:
            java = os.path.realpath(language.compile_argv[0])
            libjvm = Path(java).parent.parent / "lib" / "server" / "libjvm.so"
            print_ = f"{kotlin.name}|{java}|{libjvm.stat().st_size}|{libjvm.stat().st_mtime_ns}"
            name = f"cds-{hashlib.sha256(print_.encode()).hexdigest()[:16]}"
            target = self.toolchains.root / name
            if not (target / CDS_FILE).is_file():
                log.info("dumping the Kotlin compiler's class archive (once per compiler and JVM)")
                sandbox = self._free.get()
                box = safe_fs.make_private_dir(sandbox.slot_dir, "cds-", sandbox.uid, sandbox.uid)
                try:
                    safe_fs.write_new_file(box, language.source_file(CDS_PROGRAM), CDS_PROGRAM.encode(), sandbox.uid)
                    argv = list(language.compile_command(CDS_PROGRAM))
                    argv.insert(1, f"-XX:ArchiveClassesAtExit=/box/{CDS_FILE}")
                    spec = dataclasses.replace(self._compile_spec(language, argv, 120_000), wall_ms=300_000)
                    (raw,) = sandbox.run(spec, box=box, binds=self._mounts(language.compile_mounts))
                    if raw.kind == "E" and raw.code == 0:
                        safe_fs.copy_out(box, (CDS_FILE,), self.toolchains.root, name, 512 * 1024 * 1024)
                    else:
                        log.warning("no Kotlin class archive: %s", (raw.stdout + raw.stderr)[-300:])
                finally:
                    safe_fs.remove_box(box)
                    self._free.put(sandbox)
            if (target / CDS_FILE).is_file():
                os.chmod(target, 0o755)
                self.toolchains.mounts[CDS_MOUNT] = target
        except (SandboxError, OSError, safe_fs.UnsafeBox) as exc:
            log.warning("no Kotlin class archive: %s", exc)

    def compile(self, sandbox: BwrapSandbox, language: Language, submission: Submission) -> CompileOutcome:
        code_hash = submission.code_hash
        cached = self.artifacts.get(language.key, code_hash)
        if cached is not None:
            return CompileOutcome(artifact=cached, cached=True)
        message = self.artifacts.compile_error(language.key, code_hash)
        if message is not None:
            return CompileOutcome(None, JudgeReport(verdict=Verdict.CE, compile_message=message, compile_cached=True))
        box = safe_fs.make_private_dir(sandbox.slot_dir, "compile-", sandbox.uid, sandbox.uid)
        try:
            safe_fs.write_new_file(
                box, language.source_file(submission.code), submission.code.encode("utf-8"), sandbox.uid
            )
            compile_ms = min(language.compile_cpu_ms, self.config.compile_time_limit_ms or language.compile_cpu_ms)
            argv = list(language.compile_command(submission.code))
            binds = self._mounts(language.compile_mounts)
            pch = self.toolchains.pch(language.pch_flags) if language.pch_flags and self.config.use_pch else None
            if pch is not None:
                # Same flags, same limits: g++ finds /opt/pch/bits/stdc++.h.gch before the real header
                # and uses it when valid (when not, e.g. a macro defined first, it reads the header).
                argv[1:1] = ["-I", "/opt/pch"]
                binds.append(Bind(pch.directory, "/opt/pch"))
            cds = self.toolchains.mounts.get(CDS_MOUNT) if language.key == "kotlin" else None
            if cds is not None:
                # The compiler's classes from the archive dumped at start: about half its CPU time.
                argv.insert(1, f"-XX:SharedArchiveFile=/opt/{CDS_MOUNT}/{CDS_FILE}")
                binds.append(Bind(cds, f"/opt/{CDS_MOUNT}"))
            spec = self._compile_spec(language, argv, compile_ms)
            (raw,) = sandbox.run(spec, box=box, binds=binds)
            failure = _compile_failure(raw, spec)
            if failure is not None:
                if failure.verdict == Verdict.CE:
                    self.artifacts.remember_compile_error(language.key, code_hash, failure.compile_message)
                return CompileOutcome(None, failure)
            try:
                artifact = self.artifacts.store_from_box(language.key, code_hash, box, language.artifacts)
            except safe_fs.UnsafeBox as exc:
                # The user's program, not the judge, is at fault: a compile error (cached like one).
                message = f"the compiled program is too large: {exc}"
                self.artifacts.remember_compile_error(language.key, code_hash, message)
                return CompileOutcome(None, JudgeReport(verdict=Verdict.CE, compile_message=message))
            if artifact is None:
                message = "the compiler produced no program" + (
                    " (declare one public class with main, without a package)" if language.main_from_source else ""
                )
                return CompileOutcome(None, JudgeReport(verdict=Verdict.CE, compile_message=message))
            return CompileOutcome(artifact=artifact)
        finally:
            safe_fs.remove_box(box)

    def _judge_once(
        self,
        sandbox: BwrapSandbox,
        language: Language,
        submission: Submission,
        test_set: TestSet,
        limits: Limits,
        options: JudgeOptions,
        on_test: Callable[[TestResult], None] | None,
    ) -> JudgeReport:
        outcome = self.compile(sandbox, language, submission)
        if outcome.report is not None:
            return outcome.report
        assert outcome.artifact is not None
        if not test_set.cases:
            return JudgeReport(verdict=Verdict.AC, compile_cached=outcome.cached)
        eff = EffectiveLimits.of(limits, language)
        spec = self._run_spec(language, eff, len(test_set.cases), submission.code)
        if options.interactor is not None or options.checker_program is not None:
            special = judge_interactive if options.interactor is not None else judge_with_checker
            aux = self.companions[sandbox.slot]
            report = special(self, sandbox, aux, language, outcome.artifact, test_set, eff, spec, options, on_test)
            report.compile_cached = outcome.cached
            return report
        results: list[TestResult] = []

        def on_result(raw: RawRun) -> bool:
            result = classify(
                raw, eff, language, test_set.cases[raw.index].output, options.checker, options.float_tolerance
            )
            results.append(result)
            if on_test is not None:
                on_test(result)
            return not (options.stop_on_first_failure and result.verdict != Verdict.AC)

        self._run_tests(sandbox, language, spec, outcome.artifact, test_set, on_result)
        if any(r.verdict == Verdict.IE for r in results):
            bad = next(r for r in results if r.verdict == Verdict.IE)
            return JudgeReport(verdict=Verdict.IE, tests=results, detail=bad.detail)
        for index in range(len(results), len(test_set.cases)):
            results.append(TestResult(index=index, verdict=Verdict.SK))
        return JudgeReport(verdict=overall_verdict(results), tests=results, compile_cached=outcome.cached)


def _compile_failure(raw: RawRun, spec: RunSpec) -> JudgeReport | None:
    message = (raw.stdout + raw.stderr)[:COMPILE_MESSAGE_KEEP_BYTES].decode("utf-8", errors="replace")
    if len(raw.stdout) + len(raw.stderr) > COMPILE_MESSAGE_KEEP_BYTES:
        message += "\n… (truncated)"
    if raw.kind == "X":
        return JudgeReport(verdict=Verdict.IE, detail=f"cannot start the compiler (errno {raw.code})")
    if raw.flags & 3 or raw.cpu_us > spec.cpu_ms * 1000:
        return JudgeReport(verdict=Verdict.CE, compile_message=f"compilation time limit exceeded\n{message}".strip())
    if raw.flags & FLAG_CWD_QUOTA_KILL:
        note = f"the compiler wrote more than {spec.cwd_quota_bytes // (1024 * 1024)} MB"
        return JudgeReport(verdict=Verdict.CE, compile_message=f"{note}\n{message}".strip())
    if raw.flags & (FLAG_STDOUT_OVER | FLAG_STDERR_OVER | FLAG_OUTPUT_KILL):
        note = f"compiler output exceeded {spec.out_cap // 1024} KB (truncated)"
        return JudgeReport(verdict=Verdict.CE, compile_message=f"{note}\n{message}".strip())
    if raw.kind == "S":
        why = "compiler killed by " + signal_name(raw.code)
        if raw.oom_killed:
            why += " (compilation memory limit exceeded)"
        return JudgeReport(verdict=Verdict.CE, compile_message=f"{why}\n{message}".strip())
    if raw.code != 0:
        return JudgeReport(verdict=Verdict.CE, compile_message=message or f"compiler exit code {raw.code}")
    return None


def remove_work_root(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__: Sequence[str] = (
    "Judge",
    "JudgeBusy",
    "JudgeConfig",
    "JudgeUnavailable",
    "UnknownLanguage",
    "available_languages",
)
