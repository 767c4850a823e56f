"""A small HTML tree on the standard library's parser, enough to read problem pages.

Problem pages are read by id, class and tag, and their text is taken the way a browser
shows it: ``<br>`` and block elements break lines, ``<pre>`` keeps its spacing, scripts and
styles are dropped. Malformed markup never raises: unknown end tags are ignored and open
elements are closed when an ancestor closes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
BLOCK = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "table", "section", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"}
)
SKIP = frozenset({"script", "style", "noscript", "template"})
MAX_DEPTH = 256  # deeper nesting is flattened: a hostile page cannot blow the stack


class Element:
    __slots__ = ("attrs", "children", "parent", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element | str] = []
        self.parent = parent

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self) -> Iterator[Element]:
        stack: list[Element] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(c for c in reversed(node.children) if isinstance(c, Element))

    def find_all(self, match: Callable[[Element], bool]) -> list[Element]:
        return [e for e in self.iter() if match(e)]

    def find(self, match: Callable[[Element], bool]) -> Element | None:
        return next((e for e in self.iter() if match(e)), None)

    def by_id(self, element_id: str) -> Element | None:
        return self.find(lambda e: e.attrs.get("id") == element_id)

    def by_class(self, name: str, tag: str | None = None) -> list[Element]:
        return self.find_all(lambda e: name in e.classes and (tag is None or e.tag == tag))

    def child_elements(self) -> list[Element]:
        return [c for c in self.children if isinstance(c, Element)]

    def text(self) -> str:
        """Text as displayed: lines broken at ``<br>`` and blocks, spaces collapsed outside ``<pre>``."""
        out: list[str] = []
        _render(self, out, pre=self.tag == "pre")
        raw = "".join(out)
        lines = [line.strip() if self.tag != "pre" else line for line in raw.split("\n")]
        text = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n") if self.tag != "pre" else text


def _render(node: Element, out: list[str], *, pre: bool) -> None:
    for child in node.children:
        if isinstance(child, str):
            out.append(child if pre else re.sub(r"\s+", " ", child))
            continue
        if child.tag == "br":
            out.append("\n")
            continue
        inner_pre = pre or child.tag == "pre"
        block = child.tag in BLOCK
        if block and out and not out[-1].endswith("\n"):
            out.append("\n")
        _render(child, out, pre=inner_pre)
        if block and out and not out[-1].endswith("\n"):
            out.append("\n")


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self._open: list[Element] = [self.root]
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            if tag in SKIP:
                self._skipping += 1
            return
        if tag in SKIP:
            self._skipping = 1
            return
        parent = self._open[-1]
        element = Element(tag, {k: v or "" for k, v in attrs}, parent)
        parent.children.append(element)
        if tag not in VOID and len(self._open) < MAX_DEPTH:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping and tag not in SKIP:
            parent = self._open[-1]
            parent.children.append(Element(tag, {k: v or "" for k, v in attrs}, parent))

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in SKIP:
                self._skipping -= 1
            return
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._open[-1].children.append(data)


def parse_html(markup: str) -> Element:
    builder = _Builder()
    builder.feed(markup)
    builder.close()
    return builder.root
