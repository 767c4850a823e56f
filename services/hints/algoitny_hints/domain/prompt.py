"""What the model is told, and what its answer must not contain (no I/O)."""

from __future__ import annotations

import json
import re

from algoitny_hints.domain.models import ExecutionContext, Hint, ProblemContext
from algoitny_shared.llm_answers import MalformedAnswer as SharedMalformedAnswer

SYSTEM = (
    "You are a patient competitive-programming tutor. Give 3 to 5 hints, ordered from a gentle nudge "
    "(level 1) to a near-solution (the last). Point at the concrete cause visible in the evidence. "
    "Never write a complete solution program; quote at most a line or two of the user's own code. "
    'Answer only JSON: {"hints": [{"level": 1, "title": "...", "text": "..."}]}.'
)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n…[truncated {len(text) - limit} characters]"


def build_prompt(
    problem: ProblemContext | None,
    execution: ExecutionContext | None,
    *,
    max_tests: int = 3,
    max_field: int = 1500,
    max_code: int = 20_000,
) -> str:
    parts: list[str] = [SYSTEM, ""]
    if problem is not None:
        parts += [
            "## Problem",
            f"Title: {problem.title or problem.problem_id} ({problem.platform}/{problem.problem_id})",
            f"Tags: {', '.join(problem.tags) or 'none'}",
            f"Difficulty: {problem.difficulty or 'unknown'}",
            f"Time limit: {problem.time_limit_ms or '?'} ms; memory limit: {problem.memory_limit_mb or '?'} MB",
            f"Checker: {problem.checker or 'exact'}",
        ]
        if problem.constraints:
            parts.append(f"Constraints: {truncate(problem.constraints, max_field)}")
        parts.append("")
    if execution is not None:
        parts += [
            "## Submission",
            f"Language: {execution.language}",
            f"Verdict: {execution.verdict}",
            "Code:",
            "```",
            truncate(execution.code, max_code),
            "```",
        ]
        if execution.compile_error:
            parts += ["Compiler output:", truncate(execution.compile_error, max_field)]
        if execution.runtime_error:
            parts += ["Runtime error:", truncate(execution.runtime_error, max_field)]
        for t in execution.failing_tests(max_tests):
            parts += [
                f"### Failing test {t.ordinal if t.ordinal is not None else ''} ({t.verdict or 'failed'})".rstrip(),
                "Input:",
                truncate(t.input, max_field),
                "Expected output:",
                truncate(t.expected, max_field),
                "Actual output:",
                truncate(t.actual, max_field),
            ]
            if t.stderr:
                parts += ["Stderr:", truncate(t.stderr, max_field)]
    else:
        parts.append("The user has not submitted code yet: give hints towards an approach.")
    return "\n".join(parts)


class MalformedAnswer(SharedMalformedAnswer):
    """Not the hints JSON (the shared Gemini client retries such answers)."""


def parse_answer(text: str | None) -> list[Hint]:
    """The model's JSON answer as 3-5 hints ordered by level (raises MalformedAnswer)."""
    try:
        data = json.loads(text or "")
        raw = data["hints"]
        hints = [
            Hint(
                level=1,
                title=str(h.get("title", "")).strip()[:200] or f"Hint {i + 1}",
                text=str(h["text"]).strip()[:4000],
            )
            for i, h in enumerate(raw)
        ]
        order = sorted(range(len(raw)), key=lambda i: int(raw[i].get("level", i + 1)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"not the hints JSON: {exc}") from exc
    if not 3 <= len(hints) <= 5 or any(not h.text for h in hints):
        raise MalformedAnswer(f"expected 3-5 non-empty hints, got {len(hints)}")
    return [Hint(level=n + 1, title=hints[i].title, text=hints[i].text) for n, i in enumerate(order)]


# Code a hint might carry, however it is marked up: fences of ``` or ~~~ (any length, with or
# without a language, closed or running to the end), a fence on one line, HTML pre/code
# elements, indented (4 spaces / tab) blocks, and bare runs of lines that read as code.
_FENCE = re.compile(r"(?m)^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)(?:^[ \t]*\1[`~]*[ \t]*$|\Z)", re.S)
_INLINE_FENCE = re.compile(r"(`{3,}|~{3,})(.+?)\1", re.S)
_HTML_CODE = re.compile(r"<(pre|code)[^>]*>(.*?)(?:</\1>|\Z)", re.S | re.I)
_CODE_LINE = re.compile(
    r"([;{}]\s*(//.*)?$)|^\s*(#include|#define|def |for\b|while\b|if\b|else\b|elif |return\b|print|"
    r"import |from \S+ import|class |public |private |static |int |long |using |std::|cin|cout|scanf|printf|"
    r"let |const |var |function |fn |func |package |[A-Za-z_][\w.\[\]]* *(\+|-|\*|/|%)?= )"
)
MAX_FOREIGN_CODE_LINES = 6


def _statements(block: str) -> list[str]:
    """A block's code lines; one long line of code counts each of its statements."""
    lines = [ln for ln in block.splitlines() if ln.strip()]
    if len(lines) <= 2:
        lines = [part for ln in lines for part in re.split(r"(?<=[;{}])", ln) if part.strip()]
    return lines


def code_blocks(text: str) -> list[list[str]]:
    """Every stretch of ``text`` that is code, as its lines (statements)."""
    blocks = [_statements(m.group(2)) for m in _FENCE.finditer(text)]
    blocks += [_statements(m.group(2)) for m in _INLINE_FENCE.finditer(text)]
    blocks += [_statements(m.group(2)) for m in _HTML_CODE.finditer(text)]
    indented: list[str] = []
    run: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith(("    ", "\t")) and line.strip():
            indented.append(line)
        elif line.strip() or not indented:
            if len(indented) > 1:
                blocks.append(indented)
            indented = []
        if line.strip() and _CODE_LINE.search(line.strip()):
            run.append(line)
        elif line.strip():
            if len(run) > 1:
                blocks.append(run)
            run = []
    return blocks


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_output(hints: list[Hint], *, forbidden: list[str], own_code: str = "") -> str | None:
    """Why these hints must not be published (None when they are fine).

    ``forbidden``: texts that must never appear (the reference solution, other users' code):
    any of their lines of 20+ significant characters found in a hint rejects it. A code block of
    more than 6 lines that is not the user's own code counts as a full solution and rejects it too,
    whatever the markup (:func:`code_blocks`).
    """
    own = _norm(own_code)
    body = "\n".join(f"{h.title}\n{h.text}" for h in hints)
    flat = _norm(body)
    for text in forbidden:
        for line in text.splitlines():
            n = _norm(line)
            if len(n) >= 20 and n in flat and n not in own:
                return "contains a line of a protected solution"
        n = _norm(text)
        if len(n) >= 20 and n in flat:
            return "contains a protected solution"
    for hint in hints:
        for block in code_blocks(hint.text):
            foreign = [ln for ln in block if _norm(ln) not in own]
            if len(foreign) > MAX_FOREIGN_CODE_LINES:
                return "contains a code block that looks like a complete solution"
    return None
