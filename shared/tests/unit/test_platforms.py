from __future__ import annotations

import re

import pytest

from algoitny_shared.platforms import (
    ALIASES,
    PLATFORM_RE,
    PLATFORMS,
    RESERVED_PLATFORMS,
    ProblemRef,
    platform_of_alias,
    problem_of_url,
)


def test_every_platform_is_a_valid_name_and_answers_to_its_nicknames() -> None:
    for platform in PLATFORMS:
        assert PLATFORM_RE.match(platform.id) and platform.id not in RESERVED_PLATFORMS
        for alias in (platform.id, *platform.aliases):
            assert alias == alias.lower() and platform_of_alias(alias.upper()) == platform.id
    # One nickname, one platform.
    assert len(ALIASES) == sum(len({p.id, *p.aliases}) for p in PLATFORMS)
    assert platform_of_alias("boj") == platform_of_alias("백준") == platform_of_alias("acmicpc") == "baekjoon"
    assert platform_of_alias("CF") == "codeforces" and platform_of_alias("lc") == "leetcode"
    assert platform_of_alias("hackerrank") is None
    assert "suggest" in RESERVED_PLATFORMS and "search" in RESERVED_PLATFORMS


@pytest.mark.parametrize(
    ("url", "ref"),
    [
        ("https://www.acmicpc.net/problem/1000", ProblemRef("baekjoon", "1000")),
        ("acmicpc.net/problem/2178/", ProblemRef("baekjoon", "2178")),
        ("http://boj.kr/1753", ProblemRef("baekjoon", "1753")),
        ("https://codeforces.com/problemset/problem/4/A", ProblemRef("codeforces", "4A")),
        ("https://codeforces.com/contest/1520/problem/a?locale=en", ProblemRef("codeforces", "1520A")),
        ("https://m1.codeforces.com/contest/1352/problem/C#statement", ProblemRef("codeforces", "1352C")),
        ("https://codeforces.com/gym/100001/problem/B1", ProblemRef("codeforces", "100001B1")),
        ("https://leetcode.com/problems/two-sum/", ProblemRef("leetcode", title_slug="two-sum")),
        ("https://leetcode.com/problems/Two-Sum/description/", ProblemRef("leetcode", title_slug="two-sum")),
        ("https://atcoder.jp/contests/abc086/tasks/abc086_a", ProblemRef("atcoder", "abc086_a")),
    ],
)
def test_problem_pages_of_known_platforms(url: str, ref: ProblemRef) -> None:
    assert problem_of_url(url) == ref


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/problem/1000",  # an unknown host
        "https://www.acmicpc.net/status?problem_id=1000",  # not a problem page
        "https://codeforces.com/contest/1520",
        "ftp://acmicpc.net/problem/1000",
        "acmicpc net problem 1000",
        "1000",
        "boj 1000",
        "",
        "r\U00015b51\u00e0[\U000fdfc8Q\x05",  # found by fuzzing: "[" made urlsplit raise (a 500)
        "http://[::1/problem/1",
    ],
)
def test_anything_else_is_not_a_problem_page(text: str) -> None:
    assert problem_of_url(text) is None


def test_problem_id_from_a_url_is_a_valid_id() -> None:
    ref = problem_of_url("https://codeforces.com/contest/1520/problem/A")
    assert ref is not None and ref.problem_id and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", ref.problem_id)
