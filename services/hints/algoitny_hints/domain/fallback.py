"""Offline hints: deterministic, specific to the case, from the evidence of the run (no I/O).

Used when no Gemini key is configured, when Gemini fails after its retries (or its breaker is
open, or the budget is spent), and when its output fails the safety check. Each diagnosis names
the cause it found (``cause``) and returns 3-5 hints from a gentle nudge to a near-solution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from algoitny_hints.domain.models import ExecutionContext, Hint, ProblemContext, TestResult

INT32_MAX = 2**31 - 1
SIGNALS = {6: "SIGABRT", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 24: "SIGXCPU", 25: "SIGXFSZ"}
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INT = re.compile(r"-?\d+")


def _h(texts: list[tuple[str, str]]) -> list[Hint]:
    return [Hint(level=i + 1, title=t, text=x) for i, (t, x) in enumerate(texts)]


def _short(text: str, n: int = 60) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


def _is_python(lang: str) -> bool:
    return lang.lower().startswith(("py", "python"))


def _is_cpp(lang: str) -> bool:
    return lang.lower() in {"c", "cpp", "c++", "cpp17", "cpp20", "c++17", "c++20", "gnu++17"} or "cpp" in lang.lower()


def _is_java(lang: str) -> bool:
    return lang.lower().startswith("java")


# ----------------------------------------------------------------------------- outputs


def diff_outputs(expected: str, actual: str, tolerance: float | None = None) -> tuple[str, str]:
    """(kind, where) of the first difference between two outputs.

    Kinds: no_output, whitespace, case, precision, missing_lines, extra_lines, overflow, value.
    """
    exp_lines = expected.rstrip("\n").split("\n") if expected.strip() else []
    act_lines = actual.rstrip("\n").split("\n") if actual.strip() else []
    if exp_lines and not act_lines:
        return "no_output", "the program printed nothing"
    if expected.split() == actual.split():
        for i, (e, a) in enumerate(zip(exp_lines, act_lines, strict=False), 1):
            if e != a:
                return "whitespace", f"line {i}: expected {_short(e)!r}, got {_short(a)!r}"
        return "whitespace", "the line structure differs (line breaks or trailing blank lines)"
    if expected.lower().split() == actual.lower().split():
        for e, a in zip(expected.split(), actual.split(), strict=False):
            if e != a:
                return "case", f"expected {e!r}, got {a!r}"
    exp_tokens, act_tokens = expected.split(), actual.split()
    if len(act_tokens) < len(exp_tokens) and exp_tokens[: len(act_tokens)] == act_tokens:
        missing = len(exp_lines) - len(act_lines)
        return "missing_lines", (
            f"output stops after {len(act_tokens)} of {len(exp_tokens)} values"
            + (
                f" ({missing} line(s) missing, first missing: {_short(exp_lines[len(act_lines)])!r})"
                if missing > 0
                else ""
            )
        )
    if len(act_tokens) > len(exp_tokens) and act_tokens[: len(exp_tokens)] == exp_tokens:
        return (
            "extra_lines",
            f"{len(act_tokens) - len(exp_tokens)} extra value(s) after the expected output, "
            f"starting with {_short(act_tokens[len(exp_tokens)])!r}",
        )
    for line_no, (e_line, a_line) in enumerate(zip(exp_lines, act_lines, strict=False), 1):
        e_tok, a_tok = e_line.split(), a_line.split()
        for pos, (e, a) in enumerate(zip(e_tok, a_tok, strict=False), 1):
            if e == a:
                continue
            where = f"line {line_no}, value {pos}: expected {_short(e)!r}, got {_short(a)!r}"
            if _NUM.match(e) and _NUM.match(a):
                ev, av = float(e), float(a)
                if ("." in e or "." in a) and abs(ev - av) <= max(1e-3, tolerance or 0) * max(1.0, abs(ev)) * 10:
                    return "precision", where
                if e.lstrip("-").isdigit() and abs(int(e)) > INT32_MAX:
                    return "overflow", where
            return "value", where
        if len(e_tok) != len(a_tok):
            return ("missing_lines" if len(a_tok) < len(e_tok) else "extra_lines"), (
                f"line {line_no} has {len(a_tok)} value(s), expected {len(e_tok)}"
            )
    if len(act_lines) < len(exp_lines):
        return "missing_lines", f"{len(exp_lines) - len(act_lines)} line(s) missing from line {len(act_lines) + 1}"
    return "extra_lines", f"{len(act_lines) - len(exp_lines)} extra line(s) from line {len(exp_lines) + 1}"


def _max_abs_int(text: str) -> int:
    return max((abs(int(m)) for m in _INT.findall(text[:200_000])), default=0)


def _wrong_answer(ex: ExecutionContext, t: TestResult, p: ProblemContext | None) -> tuple[str, list[Hint]]:
    kind, where = diff_outputs(t.expected, t.actual, p.float_tolerance if p else None)
    test = f"test {t.ordinal}" if t.ordinal is not None else "the first failing test"
    if _is_python(ex.language) and kind == "overflow":
        kind = "value"  # Python integers do not overflow: a big expected value is just a value
    if kind != "overflow" and _max_abs_int(t.expected) > INT32_MAX and not _is_python(ex.language):
        kind = "overflow"
    if kind == "no_output":
        return "wa_no_output", _h(
            [
                ("Nothing was printed", f"On {test} your program printed nothing although an answer was expected."),
                ("Check every path prints", "Look for an early return/exit or a branch that skips the final print."),
                (
                    "Flush the output",
                    "If you buffer output, make sure it is flushed (and written to stdout, not stderr).",
                ),
            ]
        )
    if kind == "whitespace":
        return "wa_whitespace", _h(
            [
                (
                    "Same values, different layout",
                    f"On {test} the values are right but the formatting differs: {where}.",
                ),
                ("Separators", "Check spaces versus newlines between values and a trailing space or extra blank line."),
                (
                    "Match the sample exactly",
                    "Print exactly the layout of the sample output, e.g. ' '.join(...) per line.",
                ),
            ]
        )
    if kind == "case":
        return "wa_case", _h(
            [
                ("Letter case", f"On {test} the answer differs only in upper/lower case: {where}."),
                ("Copy the exact words", "Copy the required words (e.g. YES/NO, Yes/No) from the statement verbatim."),
                ("One constant", "Define the answer strings once and print those constants everywhere."),
            ]
        )
    if kind == "precision":
        return "wa_precision", _h(
            [
                ("Floating-point precision", f"On {test} a real number is close but not precise enough: {where}."),
                (
                    "Print more digits",
                    "Print with fixed precision (e.g. 9-10 digits after the point) instead of default formatting.",
                ),
                (
                    "Avoid accumulating error",
                    "Use double (not float), keep integers exact as long as possible, divide last.",
                ),
            ]
        )
    if kind == "overflow":
        return "wa_overflow", _h(
            [
                ("Large values", f"On {test} the expected answer exceeds the 32-bit range (±2^31): {where}."),
                ("Use 64-bit integers", "Store sums and products in 64-bit integers (long long in C++, long in Java)."),
                (
                    "Cast before multiplying",
                    "Cast operands to 64-bit before a multiplication: (long long)a * b, not (long long)(a * b).",
                ),
                ("Modulo", "If the statement asks for a remainder, apply it after every addition/multiplication."),
            ]
        )
    if kind == "missing_lines":
        return "wa_missing_output", _h(
            [
                ("Output is incomplete", f"On {test} part of the answer is missing: {where}."),
                (
                    "All queries/test cases",
                    "Make sure you loop over every test case or query and print one answer for each.",
                ),
                ("Early exit", "Check for a break/return that stops before the last case, or input read incompletely."),
            ]
        )
    if kind == "extra_lines":
        return "wa_extra_output", _h(
            [
                ("Too much output", f"On {test} your program prints more than expected: {where}."),
                ("Debug prints", "Remove debug output from stdout (print to stderr instead)."),
                ("One answer per case", "Check the answer is printed once per case, not inside an inner loop."),
            ]
        )
    return "wa_value", _h(
        [
            ("Where it differs", f"On {test} the first wrong value is at {where}."),
            (
                "Recheck with this input",
                "Run your program by hand on this input and compare each step with the statement.",
            ),
            (
                "Edge cases",
                "Think about the smallest and largest inputs, equal values, and empty or single-element cases.",
            ),
            (
                "Re-examine the idea",
                "If the small cases pass, the approach itself may be wrong on this case: try to "
                "prove why it is correct, or find a counterexample from this test.",
            ),
        ]
    )


# ----------------------------------------------------------------------------- limits


def estimate_n(t: TestResult | None, p: ProblemContext | None) -> int:
    candidates = []
    if p and p.constraints:
        for m in re.finditer(r"(\d+)\s*(?:\*|×|x)?\s*10\s*\^\s*(\d+)|10\s*\^\s*(\d+)|(\d[\d,]{3,})", p.constraints):
            if m.group(1):
                candidates.append(int(m.group(1)) * 10 ** int(m.group(2)))
            elif m.group(3):
                candidates.append(10 ** int(m.group(3)))
            elif m.group(4):
                candidates.append(int(m.group(4).replace(",", "")))
    if t and t.input:
        first = t.input.split("\n", 1)[0]
        leading = [int(x) for x in _INT.findall(first)[:3] if 0 < int(x) <= 10**12]
        # The sizes usually open the input; without them, the number of values read is the size.
        candidates.extend(leading or [len(t.input.split())])
    reasonable = [c for c in candidates if c <= 10**12]
    return max(reasonable, default=0)


def allowed_complexity(n: int, time_limit_ms: int | None, language: str) -> str:
    ops = (1e7 if _is_python(language) else 2e8) * max(0.5, (time_limit_ms or 1000) / 1000)
    if n <= 0:
        return "about O(n log n) or better"
    for name, f in (
        ("O(n^3)", lambda x: x**3),
        ("O(n^2)", lambda x: x**2),
        ("O(n sqrt n)", lambda x: x * math.sqrt(x)),
        ("O(n log n)", lambda x: x * max(1.0, math.log2(x))),
        ("O(n)", lambda x: x),
    ):
        if f(n) <= ops:
            return name
    return "O(log n) or O(1) per query (a formula)"


def _tle(ex: ExecutionContext, t: TestResult | None, p: ProblemContext | None) -> tuple[str, list[Hint]]:
    n = estimate_n(t, p)
    limit = p.time_limit_ms if p and p.time_limit_ms else None
    complexity = allowed_complexity(n, limit, ex.language)
    input_size = (t.input_bytes or len(t.input)) if t else 0
    slow = _slow_input(ex, input_size)
    if slow:
        return "tle_slow_input", _h(
            [
                ("Reading the input is the bottleneck", f"The input is large ({input_size:,} bytes) and {slow[0]}."),
                ("Fast input", slow[1]),
                ("Then check the algorithm", f"With n ≈ {n:,} and a {limit or 1000} ms limit, aim for {complexity}."),
            ]
        )
    lim = f"{limit} ms" if limit else "the time limit"
    return "tle_complexity", _h(
        [
            (
                "Too slow for the constraints",
                f"Time limit exceeded: with n ≈ {n:,} and {lim}, roughly {complexity} fits.",
            ),
            ("Find the hot loop", "Estimate the work of your nested loops for the largest n; that is what times out."),
            ("Cut a factor", "Look for repeated work to precompute (prefix sums, sorting once, hashing, memoisation)."),
            (
                "Target complexity",
                f"Rework the main loop to {complexity}: e.g. sorting + two pointers or binary search "
                "instead of comparing all pairs.",
            ),
        ]
    )


def _slow_input(ex: ExecutionContext, input_size: int) -> tuple[str, str] | None:
    if input_size < 100_000:
        return None
    code = ex.code
    if _is_python(ex.language) and re.search(r"\binput\s*\(", code) and "sys.stdin" not in code:
        return (
            "it is read with Python's input(), one slow call per line",
            "Use data = sys.stdin.buffer.read().split() once (or sys.stdin.readline) instead of input().",
        )
    if _is_cpp(ex.language) and "cin" in code and "sync_with_stdio" not in code:
        return (
            "std::cin is still synchronised with C stdio",
            "Add ios::sync_with_stdio(false); cin.tie(nullptr); at the start of main (or use scanf).",
        )
    if _is_java(ex.language) and "Scanner" in code:
        return (
            "java.util.Scanner is slow on large inputs",
            "Read with BufferedReader + StringTokenizer (or a DataInputStream-based reader).",
        )
    return None


def _mle(ex: ExecutionContext, t: TestResult | None, p: ProblemContext | None) -> tuple[str, list[Hint]]:
    limit = p.memory_limit_mb if p and p.memory_limit_mb else None
    n = estimate_n(t, p)
    used = (t.memory_kb if t and t.memory_kb else ex.memory_kb) or 0
    per = "each Python int in a list costs about 36 bytes" if _is_python(ex.language) else "an int is 4 bytes"
    return "mle", _h(
        [
            (
                "Memory limit exceeded",
                f"The program used more than {limit or 'the allowed'} MB"
                + (f" (about {used / 1024:.0f} MB measured)" if used else "")
                + ".",
            ),
            ("Count your arrays", f"With n ≈ {n:,}, an n×n table does not fit; {per}."),
            (
                "Keep only what you need",
                "Keep only the previous row of a DP table, or stream the input instead of storing it.",
            ),
            (
                "Leaks and growth",
                "Check containers that grow in a loop, and deep recursion that keeps large frames alive.",
            ),
        ]
    )


# ----------------------------------------------------------------------------- runtime errors


def _signal_of(ex: ExecutionContext, t: TestResult | None) -> int | None:
    if t and t.signal:
        return t.signal
    if t and t.exit_code and t.exit_code > 128:
        return t.exit_code - 128
    if t and t.exit_code and t.exit_code < 0:
        return -t.exit_code
    text = ex.runtime_error + (t.stderr if t else "")
    for num, name in SIGNALS.items():
        if name in text:
            return num
    if "Segmentation fault" in text:
        return 11
    if "Floating point exception" in text:
        return 8
    return None


def _runtime_error(ex: ExecutionContext, t: TestResult | None, p: ProblemContext | None) -> tuple[str, list[Hint]]:
    err = "\n".join(x for x in (ex.runtime_error, t.stderr if t else "") if x)
    test = f"test {t.ordinal}" if t and t.ordinal is not None else "a test"
    rules: list[tuple[Callable[[], bool], str, list[tuple[str, str]]]] = [
        (
            lambda: "RecursionError" in err or "StackOverflowError" in err or "maximum recursion depth" in err,
            "re_recursion_depth",
            [
                (
                    "Recursion too deep",
                    f"On {test} the recursion went deeper than the runtime allows ({_first_line(err)}).",
                ),
                ("Depth of the input", "A path/chain input makes a DFS recurse n levels deep."),
                (
                    "Iterate instead",
                    "Rewrite the recursion with an explicit stack, or raise the limit "
                    "(sys.setrecursionlimit plus a bigger thread stack) only if the depth is bounded.",
                ),
            ],
        ),
        (
            lambda: "ZeroDivisionError" in err or "ArithmeticException" in err or _signal_of(ex, t) == 8,
            "re_division_by_zero",
            [
                (
                    "Division by zero",
                    f"On {test} the program divided (or took a remainder) by zero "
                    f"(SIGFPE / {_first_line(err) or 'arithmetic error'}).",
                ),
                (
                    "Which divisor can be 0",
                    "Find every / and % and ask when the right-hand side can be zero for this input.",
                ),
                (
                    "Guard the case",
                    "Handle the zero case separately (e.g. n = 0, an empty range, gcd with 0) before dividing.",
                ),
            ],
        ),
        (
            lambda: (
                "IndexError" in err
                or "ArrayIndexOutOfBounds" in err
                or "out_of_range" in err
                or "StringIndexOutOfBounds" in err
            ),
            "re_index_out_of_bounds",
            [
                (
                    "Index out of range",
                    f"On {test} an index went past the end of an array or string ({_first_line(err)}).",
                ),
                (
                    "Check the sizes",
                    "Compare each array's size with the largest index used, including i+1 and i-1 at the ends.",
                ),
                (
                    "Bounds of the input",
                    "Allocate for the maximum size in the constraints (often n+1 for 1-based indices).",
                ),
            ],
        ),
        (
            lambda: _signal_of(ex, t) == 11,
            "re_segfault_out_of_bounds",
            [
                ("Segmentation fault (SIGSEGV)", f"On {test} the program accessed memory it does not own."),
                (
                    "Out-of-bounds access",
                    "The usual cause is an array index out of bounds: check sizes against the "
                    "constraints, and i-1/i+1 at the edges.",
                ),
                (
                    "Other causes",
                    "Deep recursion overflowing the stack, or dereferencing a null/dangling pointer or an "
                    "end() iterator.",
                ),
                ("Large local arrays", "Move big arrays from the stack (inside main) to global or heap memory."),
            ],
        ),
        (
            lambda: "KeyError" in err,
            "re_key_error",
            [
                ("Missing dictionary key", f"On {test} a dictionary lookup failed ({_first_line(err)})."),
                ("Absent keys", "Use dict.get(key, default) or collections.defaultdict when a key may be missing."),
                (
                    "Why is it absent",
                    "Check that every key is inserted before it is read, with the same type (int vs str).",
                ),
            ],
        ),
        (
            lambda: "ValueError" in err or "NumberFormatException" in err,
            "re_input_parsing",
            [
                ("Parsing the input failed", f"On {test} a conversion of the input failed ({_first_line(err)})."),
                ("Input format", "Several values may be on one line, or lines may have extra spaces: split the line."),
                ("Read robustly", "Read all tokens with sys.stdin.read().split() and convert them one by one."),
            ],
        ),
        (
            lambda: "NullPointerException" in err or "TypeError" in err or "AttributeError" in err,
            "re_null_or_type",
            [
                ("A value was missing", f"On {test}: {_first_line(err)}."),
                ("Uninitialised values", "Find the variable that is None/null here and the path that leaves it unset."),
                ("Initialise first", "Initialise containers and objects before use, for every branch."),
            ],
        ),
        (
            lambda: _signal_of(ex, t) == 6 or "bad_alloc" in err or "Assertion" in err,
            "re_abort",
            [
                (
                    "The program aborted (SIGABRT)",
                    f"On {test} an assertion failed or an exception was not caught ({_first_line(err) or 'abort'}).",
                ),
                (
                    "vector::at / bad_alloc",
                    "std::out_of_range means a bad index; std::bad_alloc means an allocation too large.",
                ),
                ("Check sizes", "Check the size of containers you create from input values."),
            ],
        ),
    ]
    for cond, cause, texts in rules:
        if cond():
            return cause, _h(texts)
    return "re_other", _h(
        [
            ("Runtime error", f"On {test} the program crashed: {_first_line(err) or 'no error message'}."),
            ("Exit code", "A non-zero exit code also counts as a runtime error: return 0 from main."),
            ("Reproduce it", "Run your program on this test locally and read the error's line number."),
        ]
    )


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return _short(lines[-1], 160) if lines else ""


def _compile_error(ex: ExecutionContext) -> tuple[str, list[Hint]]:
    msg = ex.compile_error.strip()
    first = next((ln.strip() for ln in msg.splitlines() if "error" in ln.lower()), _first_line(msg))
    where = re.search(r":(\d+):(?:(\d+):)?", first)
    at = f" at line {where.group(1)}" if where else ""
    return "ce", _h(
        [
            ("Compilation error", f"The compiler rejected the code{at}: {_short(first, 300)}"),
            ("Read the first error", "Fix the first error only; later ones are often caused by it."),
            (
                "Language and version",
                f"Check the language is right ({ex.language}) and no library or feature "
                "outside the judge's standard is used (e.g. bits/stdc++.h on non-GCC, newer syntax).",
            ),
        ]
    )


def _output_limit(ex: ExecutionContext, t: TestResult | None) -> tuple[str, list[Hint]]:
    return "ole", _h(
        [
            ("Output limit exceeded", "The program printed far more than the answer needs."),
            ("Infinite loop printing", "Look for a loop whose exit condition is never met while printing."),
            ("Debug output", "Remove debugging prints (or send them to stderr)."),
        ]
    )


# ----------------------------------------------------------------------------- entry points


def execution_hints(ex: ExecutionContext, problem: ProblemContext | None) -> tuple[str, list[Hint]]:
    """(cause, hints) for a failed execution."""
    verdict = ex.verdict.upper()
    failing = ex.failing_tests(1)
    t = failing[0] if failing else None
    tv = (t.verdict or "").upper() if t else ""
    if verdict in {"CE", "COMPILE_ERROR", "COMPILATION_ERROR"} or ex.compile_error.strip():
        return _compile_error(ex)
    if verdict in {"TLE", "TIME_LIMIT_EXCEEDED"} or tv == "TLE":
        return _tle(ex, t, problem)
    if verdict in {"MLE", "MEMORY_LIMIT_EXCEEDED"} or tv == "MLE":
        return _mle(ex, t, problem)
    if verdict in {"OLE", "OUTPUT_LIMIT_EXCEEDED"} or tv == "OLE":
        return _output_limit(ex, t)
    if verdict in {"RE", "RUNTIME_ERROR"} or tv == "RE":
        return _runtime_error(ex, t, problem)
    if t is not None and t.expected:
        # Without the expected output a diff would take every printed value for an extra one.
        return _wrong_answer(ex, t, problem)
    return "unknown", _h(
        [
            ("Re-read the statement", f"The run ended with {ex.verdict}; compare your output format with the sample."),
            ("Edge cases", "Test the smallest and largest inputs the constraints allow."),
            ("Prove the idea", "Write down why your approach is correct; a gap in the argument points to the bug."),
        ]
    )


_TAG_NUDGES = {
    "dp": "Define a state that captures what the future needs, then a recurrence between states.",
    "dynamic programming": "Define a state that captures what the future needs, then a recurrence between states.",
    "greedy": "Find an order in which a locally best choice can never hurt; prove it with an exchange argument.",
    "graphs": "Model the objects as vertices and the relations as edges; which classic traversal answers the question?",
    "graph": "Model the objects as vertices and the relations as edges; which classic traversal answers the question?",
    "binary search": "Is the answer monotone? Then binary search on the answer with a feasibility check.",
    "math": "Look for a formula or invariant; try small cases by hand and find the pattern.",
    "implementation": "Careful simulation is enough; split the work into small functions and test each.",
    "sorting": "Sorting first often turns the problem into a single linear scan.",
    "strings": "Think about prefix functions, hashing or two pointers over the string.",
    "bfs": "Shortest paths with unit weights: breadth-first search from the start.",
    "dfs": "Explore components or trees with depth-first search; mind the recursion depth.",
}


def problem_hints(problem: ProblemContext) -> tuple[str, list[Hint]]:
    """(cause, hints) for a problem without a run: from its tags and constraints."""
    n = estimate_n(None, problem)
    complexity = allowed_complexity(n, problem.time_limit_ms, "cpp")
    tag_texts = [_TAG_NUDGES[t.lower()] for t in problem.tags if t.lower() in _TAG_NUDGES]
    hints = [
        (
            "Understand the task",
            f"Restate '{problem.title or problem.problem_id}' in your own words and solve the samples by hand.",
        ),
        (
            "Size of the input",
            f"With n up to about {n:,} and {problem.time_limit_ms or 1000} ms, aim for {complexity}."
            if n
            else f"Aim for about {complexity} within {problem.time_limit_ms or 1000} ms.",
        ),
    ]
    if tag_texts:
        hints.append(("Technique", tag_texts[0]))
    hints.append(("Edge cases", "Before submitting, test the smallest input, the largest input and repeated values."))
    if len(tag_texts) > 1:
        hints.append(("Putting it together", tag_texts[1]))
    return "problem_overview", _h(hints[:5])
