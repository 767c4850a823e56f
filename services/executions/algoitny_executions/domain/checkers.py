"""Output checkers (pure functions over bytes). Details never quote the expected output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

CheckerName = Literal["tokens", "lines", "exact", "float"]
DEFAULT_FLOAT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


def _lines(data: bytes) -> list[bytes]:
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def check_tokens(expected: bytes, actual: bytes) -> CheckResult:
    """Whitespace-separated tokens; any amount/kind of whitespace (\\r\\n = \\n) between them."""
    exp, act = expected.split(), actual.split()
    for i, (e, a) in enumerate(zip(exp, act, strict=False)):
        if e != a:
            return CheckResult(False, f"token {i + 1} differs")
    if len(exp) != len(act):
        return CheckResult(False, f"expected {len(exp)} tokens, got {len(act)}")
    return CheckResult(True)


def check_lines(expected: bytes, actual: bytes) -> CheckResult:
    """Tokens compared line by line; trailing whitespace and trailing blank lines ignored."""
    exp, act = _lines(expected), _lines(actual)
    for i, (e, a) in enumerate(zip(exp, act, strict=False)):
        if e.split() != a.split():
            return CheckResult(False, f"line {i + 1} differs")
    if len(exp) != len(act):
        return CheckResult(False, f"expected {len(exp)} lines, got {len(act)}")
    return CheckResult(True)


def check_exact(expected: bytes, actual: bytes) -> CheckResult:
    """Byte for byte after normalising line endings."""
    e, a = expected.replace(b"\r\n", b"\n"), actual.replace(b"\r\n", b"\n")
    if e == a:
        return CheckResult(True)
    at = next((i for i, (x, y) in enumerate(zip(e, a, strict=False)) if x != y), min(len(e), len(a)))
    return CheckResult(False, f"differs at byte {at + 1}")


def _float(token: bytes) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value


def check_float(expected: bytes, actual: bytes, tolerance: float = DEFAULT_FLOAT_TOLERANCE) -> CheckResult:
    """Tokens; where the expected token is a number, absolute OR relative error <= tolerance."""
    exp, act = expected.split(), actual.split()
    if len(exp) != len(act):
        return CheckResult(False, f"expected {len(exp)} tokens, got {len(act)}")
    for i, (e, a) in enumerate(zip(exp, act, strict=True)):
        ev = _float(e)
        if ev is None:
            if e != a:
                return CheckResult(False, f"token {i + 1} differs")
            continue
        av = _float(a)
        if av is None or math.isnan(av) != math.isnan(ev):
            return CheckResult(False, f"token {i + 1} is not the expected number")
        if math.isnan(ev):
            continue
        if math.isinf(ev) or math.isinf(av):
            if ev != av:
                return CheckResult(False, f"token {i + 1} differs")
            continue
        diff = abs(av - ev)
        if diff > tolerance and diff > tolerance * abs(ev):
            return CheckResult(False, f"token {i + 1} differs by {diff:.3g}")
    return CheckResult(True)


def check(name: str, expected: bytes, actual: bytes, float_tolerance: float | None = None) -> CheckResult:
    if name == "tokens":
        return check_tokens(expected, actual)
    if name == "lines":
        return check_lines(expected, actual)
    if name == "exact":
        return check_exact(expected, actual)
    if name == "float":
        return check_float(expected, actual, float_tolerance or DEFAULT_FLOAT_TOLERANCE)
    raise ValueError(f"unknown checker {name!r}")
