"""The hint output filter finds a full solution whatever markup carries it (item 18 of issue 23)."""

from __future__ import annotations

import pytest

from algoitny_hints.domain.models import Hint
from algoitny_hints.domain.prompt import check_output

SOLUTION = """#include <bits/stdc++.h>
using namespace std;
int main() {
    long long n, s = 0;
    cin >> n;
    vector<long long> a(n);
    for (auto &x : a) cin >> x;
    sort(a.begin(), a.end());
    for (int i = 0; i < n; i++) s += a[i] * (n - i);
    cout << s << endl;
    return 0;
}"""
PY_SOLUTION = """import sys
data = sys.stdin.read().split()
n = int(data[0])
a = sorted(map(int, data[1:n + 1]))
total = 0
for i, x in enumerate(a):
    total += x * (n - i)
print(total)"""


def _indent(code: str) -> str:
    return "\n".join("    " + ln for ln in code.splitlines())


MARKUPS = {
    "backticks_with_language": f"Here:\n```cpp\n{SOLUTION}\n```\nDone.",
    "backticks_without_language": f"Here:\n```\n{SOLUTION}\n```",
    "tildes": f"Here:\n~~~cpp\n{SOLUTION}\n~~~",
    "four_backticks": f"Here:\n````\n{SOLUTION}\n````",
    "unclosed_fence": f"Here:\n```python\n{PY_SOLUTION}",
    "indented_block": f"Write it like this:\n\n{_indent(PY_SOLUTION)}\n\nThat is all.",
    "html_pre": f"<pre>{SOLUTION}</pre>",
    "html_code": f"<code>{PY_SOLUTION}</code>",
    "one_line_fence": "Use ```" + " ".join(SOLUTION.splitlines()) + "```",
    "no_markup_at_all": f"Just type:\n{PY_SOLUTION}\nand submit.",
    "fence_indented_in_a_list": f"1. Try this:\n   ```cpp\n{SOLUTION}\n   ```",
}


def _hints(text: str) -> list[Hint]:
    return [Hint(level=1, title="Nudge", text="Sort first."), Hint(level=2, title="Code", text=text)]


@pytest.mark.parametrize("markup", sorted(MARKUPS))
def test_a_full_solution_is_rejected_in_any_markup(markup: str) -> None:
    assert check_output(_hints(MARKUPS[markup]), forbidden=[]) == (
        "contains a code block that looks like a complete solution"
    )


def test_prose_short_snippets_and_the_users_own_code_pass() -> None:
    prose = (
        "Sort the array first; then the largest values should be multiplied by the smallest weights.\n"
        "For example:\n```python\na.sort()\nprint(sum(x * w for x, w in zip(a, weights)))\n```\n"
        "Think about why an exchange of two neighbours never helps."
    )
    assert check_output(_hints(prose), forbidden=[]) is None
    quoted_own = f"Your code:\n```cpp\n{SOLUTION}\n```\nLook at the second loop."
    assert check_output(_hints(quoted_own), forbidden=[], own_code=SOLUTION) is None
