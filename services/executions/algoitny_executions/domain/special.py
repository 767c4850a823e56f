"""Verdicts from a problem's own programs: a special checker or an interactor (testlib codes).

No I/O. The sandbox measures the program (:class:`RawRun`); these rules turn the measurement
into a verdict. A checker or interactor that fails (exit 3, any other unknown exit code, a
signal, a limit, a start failure) is an internal error of the *problem*: the contestant gets
IE (refunded, never WA), and ``program_failure`` says which program failed so the problem's
registrar can be told.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, replace

from algoitny_executions.domain.judging import (
    FLAG_CPU_KILL,
    FLAG_OUTPUT_KILL,
    FLAG_STDOUT_OVER,
    FLAG_WALL_KILL,
    RawRun,
    TestResult,
    Verdict,
    signal_name,
    stderr_summary,
)

# testlib exit codes
EXIT_OK = 0
EXIT_WA = 1
EXIT_PE = 2
EXIT_FAIL = 3

DETAIL_CHARS = 180


@dataclass(frozen=True)
class ProgramVerdict:
    """What the problem's program said about one test."""

    verdict: Verdict
    """AC, WA, or IE (the program itself failed)."""
    detail: str = ""
    failure: str = ""
    """Why the program failed (only with IE): what the registrar is told."""


def _message(raw: RawRun) -> str:
    return stderr_summary(raw.stderr, DETAIL_CHARS)


def program_failure(raw: RawRun, what: str, cpu_ms: int) -> str:
    """Why the problem's program failed, or "" when it ended with a testlib verdict (0, 1, 2)."""
    if raw.kind == "X":
        return f"the {what} could not start (errno {raw.code})"
    if raw.flags & FLAG_CPU_KILL or raw.cpu_us > cpu_ms * 1000:
        return f"the {what} exceeded its CPU time limit of {cpu_ms} ms"
    if raw.flags & FLAG_WALL_KILL:
        return f"the {what} exceeded its wall time limit"
    if raw.flags & (FLAG_STDOUT_OVER | FLAG_OUTPUT_KILL):
        return f"the {what} exceeded its output limit"
    if raw.kind == "S":
        return f"the {what} was killed by {signal_name(raw.code)}"
    if raw.code == EXIT_FAIL:
        message = _message(raw)
        return f"the {what} reported a failure (exit 3)" + (f": {message}" if message else "")
    if raw.code not in (EXIT_OK, EXIT_WA, EXIT_PE):
        message = _message(raw)
        return f"the {what} ended with exit code {raw.code}" + (f": {message}" if message else "")
    return ""


# An uncaught exception exits 1 in Python, Java and Node, which testlib reads as WA: these stderr
# markers say the program crashed instead (a failure of the problem, not the contestant's WA).
CRASH_MARKERS = (b"Traceback (most recent call last)", b'Exception in thread "main"', b"\n    at ")


def checker_verdict(raw: RawRun, cpu_ms: int) -> ProgramVerdict:
    """A special checker's run -> AC / WA (a presentation error is a WA saying so) / IE."""
    failure = program_failure(raw, "checker", cpu_ms)
    if not failure and raw.code == EXIT_WA and any(m in raw.stderr for m in CRASH_MARKERS):
        failure = f"the checker crashed: {_message(raw)}"
    if failure:
        return ProgramVerdict(Verdict.IE, "internal error: the problem's checker failed", failure)
    message = _message(raw)
    if raw.code == EXIT_OK:
        return ProgramVerdict(Verdict.AC, message)
    if raw.code == EXIT_PE:
        return ProgramVerdict(Verdict.WA, "presentation error" + (f": {message}" if message else ""))
    return ProgramVerdict(Verdict.WA, message or "wrong answer (checker)")


# The contestant died because the interactor had finished: writing to it (broken pipe) or reading
# past the end of what it said (EOF), in the runtimes' words.
INTERACTION_CLOSED_MARKERS = (
    b"Broken pipe",
    b"BrokenPipe",
    b"EPIPE",
    b"EOFError",
    b"NoSuchElementException",
    b"end of file",
)


def _broken_pipe(raw: RawRun) -> bool:
    """The contestant died on the closed interaction (the interactor had already finished)."""
    if raw.kind == "S":
        return raw.code == signal.SIGPIPE
    return raw.kind == "E" and raw.code != 0 and any(m in raw.stderr for m in INTERACTION_CLOSED_MARKERS)


def interactive_verdict(contestant: TestResult, contestant_raw: RawRun, interactor: RawRun, cpu_ms: int) -> TestResult:
    """One interactive test's verdict.

    ``contestant`` is the contestant's run classified on its own (limits, signals, exit code;
    its output goes to the interactor, so no checker). The order:
    1. the interactor failed (exit 3, unknown code, signal other than a broken pipe after the
       contestant died, a limit, no start) -> IE, the problem's fault;
    2. the contestant was killed on the wall clock while under its CPU limit -> ILE (it waited
       for input the interactor never sent, or slept);
    3. the contestant's own failure (TLE, MLE, OLE, RE) -> that verdict, except a death on the
       closed interaction (broken pipe, EOF) after the interactor judged WA: then WA (it kept
       talking, or waited for an answer, after being judged);
    4. the interactor's exit: 0 AC, 1 WA, 2 WA (presentation error).
    """
    # The interactor died on the closed interaction (the contestant had ended): not its failure.
    interactor_pipe = _broken_pipe(interactor) and not (interactor.flags & (FLAG_CPU_KILL | FLAG_WALL_KILL))
    failure = "" if interactor_pipe else program_failure(interactor, "interactor", cpu_ms)
    if not failure and interactor.code == EXIT_WA and any(m in interactor.stderr for m in CRASH_MARKERS):
        failure = f"the interactor crashed: {_message(interactor)}"
    if failure:
        return replace(
            contestant, verdict=Verdict.IE, detail=f"internal error: the problem's interactor failed ({failure})"[:200]
        )
    if (
        contestant.verdict == Verdict.TLE
        and contestant_raw.flags & FLAG_WALL_KILL
        and not (contestant_raw.flags & FLAG_CPU_KILL)
    ):
        return replace(
            contestant,
            verdict=Verdict.ILE,
            detail=f"idleness limit exceeded: no progress within the wall limit (CPU {contestant.time_ms} ms)",
        )
    judged_wrong = not interactor_pipe and interactor.code in (EXIT_WA, EXIT_PE)
    message = _message(interactor)
    if contestant.verdict != Verdict.AC:
        if contestant.verdict == Verdict.RE and judged_wrong and _broken_pipe(contestant_raw):
            return replace(contestant, verdict=Verdict.WA, detail=message or "wrong answer (interactor)")
        return contestant
    if interactor_pipe:
        return replace(contestant, verdict=Verdict.WA, detail="the program ended before the interaction did")
    if interactor.code == EXIT_OK:
        return replace(contestant, verdict=Verdict.AC, detail="")
    if interactor.code == EXIT_PE:
        return replace(
            contestant, verdict=Verdict.WA, detail="presentation error" + (f": {message}" if message else "")
        )
    return replace(contestant, verdict=Verdict.WA, detail=message or "wrong answer (interactor)")
