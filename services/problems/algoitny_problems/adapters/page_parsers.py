"""Deterministic readers of the problem pages of known platforms (no LLM, no network).

Each reader takes the page's HTML and returns an :class:`ExtractedProblem`, or raises
:class:`ImportRefused` saying what the page lacks (a page that is not a problem, a login
wall, a changed layout). They follow the markup each site serves today:

- Codeforces: ``div.problem-statement`` with ``div.header`` (title, ``time-limit``,
  ``memory-limit``), the legend, ``input-specification``, ``output-specification`` and
  ``sample-test`` blocks whose ``pre`` holds the lines (as ``<br>`` or one ``div`` per line).
- Baekjoon: ``#problem_title``, ``#problem-info`` (time and memory limits, Korean or
  English headings), ``#problem_description``, ``#problem_input``, ``#problem_output``,
  ``#problem_limit``, and ``pre#sample-input-N`` / ``pre#sample-output-N``.
- AtCoder: ``span.h2`` title, the "Time Limit: 2 sec / Memory Limit: 1024 MB" line and
  ``#task-statement`` (English part when present) in ``section``s headed by ``h3``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from algoitny_problems.adapters.page_html import Element, parse_html
from algoitny_problems.domain.imports import ExtractedProblem, ExtractedSample, ImportRefused

_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:seconds?|secs?|초|s\b)", re.IGNORECASE)
_MILLIS = re.compile(r"(\d+)\s*(?:ms|milliseconds?)", re.IGNORECASE)
_MEGABYTES = re.compile(r"(\d+(?:\.\d+)?)\s*(?:megabytes?|mb|mib|메가바이트)", re.IGNORECASE)


def time_limit_ms(text: str) -> int | None:
    if m := _MILLIS.search(text):
        return int(m.group(1))
    if m := _SECONDS.search(text):
        return round(float(m.group(1)) * 1000)
    return None


def memory_limit_mb(text: str) -> int | None:
    m = _MEGABYTES.search(text)
    return round(float(m.group(1))) if m else None


def _title_without_index(text: str) -> str:
    """ "A. Watermelon" (Codeforces) or "A - Product" (AtCoder) -> the name alone."""
    return re.sub(r"^\s*[A-Z][0-9]?\s*(?:\.|-|–)\s+", "", text.strip().split("\n")[0]).strip()


def _section_body(element: Element, heading_class: str = "section-title") -> str:
    parts = [c for c in element.children if not (isinstance(c, Element) and heading_class in c.classes)]
    holder = Element("div", {}, None)
    holder.children = parts
    return holder.text()


def _first_pre(element: Element) -> Element | None:
    return element.find(lambda e: e.tag == "pre")


def _pre_text(pre: Element) -> str:
    lines = [c for c in pre.child_elements() if c.tag == "div"]
    if lines:  # Codeforces' newer markup: one div per line
        return "\n".join(line.text() for line in lines) + "\n"
    return pre.text()


def read_codeforces(markup: str) -> ExtractedProblem:
    root = parse_html(markup)
    statement = next(iter(root.by_class("problem-statement")), None)
    if statement is None:
        raise ImportRefused("the Codeforces page has no problem statement (a wrong address, or a login page)")
    header = next(iter(statement.by_class("header")), None)
    title_el = next(iter(header.by_class("title")), None) if header else None
    if title_el is None or not title_el.text():
        raise ImportRefused("the Codeforces page has no problem title")
    limits = (
        {name: next(iter(header.by_class(name)), None) for name in ("time-limit", "memory-limit")} if header else {}
    )
    legend = next((c for c in statement.child_elements() if c.tag == "div" and not c.attrs.get("class")), None)
    samples: list[ExtractedSample] = []
    for block in statement.by_class("sample-test"):
        inputs = [_first_pre(e) for e in block.by_class("input")]
        outputs = [_first_pre(e) for e in block.by_class("output")]
        for given, expected in zip(inputs, outputs, strict=False):
            if given is not None and expected is not None:
                samples.append(ExtractedSample(input=_pre_text(given), output=_pre_text(expected)))
    spec = {
        name: next(iter(statement.by_class(name)), None) for name in ("input-specification", "output-specification")
    }
    time_el, memory_el = limits.get("time-limit"), limits.get("memory-limit")
    return ExtractedProblem(
        title=_title_without_index(title_el.text()),
        time_limit_ms=time_limit_ms(time_el.text()) if time_el else None,
        memory_limit_mb=memory_limit_mb(memory_el.text()) if memory_el else None,
        statement=legend.text() if legend else None,
        input_spec=_section_body(spec["input-specification"]) if spec["input-specification"] else None,
        output_spec=_section_body(spec["output-specification"]) if spec["output-specification"] else None,
        samples=samples,
    )


def _numbered_samples(root: Element, input_id: str, output_id: str) -> list[ExtractedSample]:
    samples: list[ExtractedSample] = []
    for n in range(1, 21):
        given, expected = root.by_id(f"{input_id}{n}"), root.by_id(f"{output_id}{n}")
        if given is None or expected is None:
            break
        samples.append(ExtractedSample(input=given.text(), output=expected.text()))
    return samples


def read_baekjoon(markup: str) -> ExtractedProblem:
    root = parse_html(markup)
    title = root.by_id("problem_title")
    if title is None or not title.text():
        raise ImportRefused("the Baekjoon page has no problem title (a wrong address, or a login page)")
    time_ms = memory_mb = None
    info = root.by_id("problem-info")
    if info is not None:
        headings = [th.text().lower() for th in info.find_all(lambda e: e.tag == "th")]
        row = info.find(lambda e: e.tag == "tr" and any(c.tag == "td" for c in e.child_elements()))
        cells = [td.text() for td in row.child_elements() if td.tag == "td"] if row else []
        for heading, cell in zip(headings, cells, strict=False):
            if "시간" in heading or "time" in heading:
                time_ms = time_limit_ms(cell)
            elif "메모리" in heading or "memory" in heading:
                memory_mb = memory_limit_mb(cell)

    def section(element_id: str) -> str | None:
        element = root.by_id(element_id)
        return element.text() or None if element is not None else None

    return ExtractedProblem(
        title=title.text(),
        time_limit_ms=time_ms,
        memory_limit_mb=memory_mb,
        statement=section("problem_description"),
        input_spec=section("problem_input"),
        output_spec=section("problem_output"),
        constraints=section("problem_limit"),
        samples=_numbered_samples(root, "sample-input-", "sample-output-"),
    )


def read_atcoder(markup: str) -> ExtractedProblem:
    root = parse_html(markup)
    heading = next(iter(root.by_class("h2", tag="span")), None)
    statement = root.by_id("task-statement")
    if heading is None or statement is None:
        raise ImportRefused("the AtCoder page has no task statement (a wrong address, or a login page)")
    title = "".join(c for c in heading.children if isinstance(c, str)).strip() or heading.text()
    limits_line = next(
        (
            p.text()
            for p in root.find_all(lambda e: e.tag == "p")
            if "Memory Limit" in p.text() or "メモリ制限" in p.text()
        ),
        "",
    )
    english = next(iter(statement.by_class("lang-en")), None)
    scope = english or statement
    sections: dict[str, Element] = {}
    for sec in scope.find_all(lambda e: e.tag == "section"):
        h3 = sec.find(lambda e: e.tag == "h3")
        if h3 is not None:
            sections.setdefault(h3.text().strip(), sec)

    def body(*names: str) -> str | None:
        for name in names:
            if name in sections:
                return _section_body_without_heading(sections[name]) or None
        return None

    samples: list[ExtractedSample] = []
    for n in range(1, 21):
        given = sections.get(f"Sample Input {n}") or sections.get(f"入力例 {n}")
        expected = sections.get(f"Sample Output {n}") or sections.get(f"出力例 {n}")
        given_pre = _first_pre(given) if given else None
        expected_pre = _first_pre(expected) if expected else None
        if given_pre is None or expected_pre is None:
            break
        samples.append(ExtractedSample(input=given_pre.text(), output=expected_pre.text()))
    time_part, _, memory_part = limits_line.partition("/")
    return ExtractedProblem(
        title=_title_without_index(title),
        time_limit_ms=time_limit_ms(time_part),
        memory_limit_mb=memory_limit_mb(memory_part),
        statement=body("Problem Statement", "問題文"),
        input_spec=body("Input", "入力"),
        output_spec=body("Output", "出力"),
        constraints=body("Constraints", "制約"),
        samples=samples,
    )


def _section_body_without_heading(section: Element) -> str:
    holder = Element("div", {}, None)
    holder.children = [c for c in section.children if not (isinstance(c, Element) and c.tag == "h3")]
    return holder.text()


READERS: dict[str, Callable[[str], ExtractedProblem]] = {
    "codeforces": read_codeforces,
    "baekjoon": read_baekjoon,
    "atcoder": read_atcoder,
}
