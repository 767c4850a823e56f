"""One vocabulary of judge platforms for every service.

A problem's ``platform`` is any name matching ``PLATFORM_PATTERN`` (registrars may add new
ones), except the ``RESERVED_PLATFORMS`` that the API uses as path segments. The platforms
below are the ones people know by name: each lists the nicknames competitive programmers
type in front of a problem id (``boj 1000``, ``cf 4A``, ``lc 1``) and the addresses of its
problem pages, so search can read ``백준1000`` or a pasted problem URL as "that problem".
Add a platform or a nickname here and search understands it everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

PLATFORM_PATTERN = r"^[a-z][a-z0-9_-]{1,31}$"
PLATFORM_RE = re.compile(PLATFORM_PATTERN)
PROBLEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
PROBLEM_ID_RE = re.compile(PROBLEM_ID_PATTERN)
# Path segments the API uses under /problems/, so no platform may take these names.
RESERVED_PLATFORMS = frozenset({"id", "search", "suggest", "platforms", "stats", "legacy"})


@dataclass(frozen=True)
class ProblemRef:
    """A problem named by platform and id (``title_slug``: a page named by its title instead)."""

    platform: str
    problem_id: str | None = None
    title_slug: str | None = None


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    aliases: tuple[str, ...]  # lower case; the id itself is always an alias too
    hosts: tuple[str, ...]  # problem-page hosts, without "www."
    # Path patterns of problem pages on those hosts; named groups: contest + index (joined,
    # Codeforces style), id, or slug (a page named by the problem's title).
    pages: tuple[re.Pattern[str], ...]


def _pages(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        id="baekjoon",
        name="Baekjoon Online Judge",
        aliases=("baekjoon", "boj", "백준", "acmicpc"),
        hosts=("acmicpc.net", "boj.kr", "boj.ma"),
        pages=_pages(r"^/problem/(?P<id>\d+)/?$", r"^/(?P<id>\d+)/?$"),
    ),
    Platform(
        id="codeforces",
        name="Codeforces",
        aliases=("codeforces", "cf", "코드포스"),
        hosts=("codeforces.com", "codeforces.ru", "m1.codeforces.com", "m2.codeforces.com", "m3.codeforces.com"),
        pages=_pages(
            r"^/problemset/problem/(?P<contest>\d+)/(?P<index>[A-Z][0-9]?)/?$",
            r"^/(?:contest|gym)/(?P<contest>\d+)/problem/(?P<index>[A-Z][0-9]?)/?$",
        ),
    ),
    Platform(
        id="leetcode",
        name="LeetCode",
        aliases=("leetcode", "lc", "릿코드"),
        hosts=("leetcode.com", "leetcode.cn"),
        pages=_pages(r"^/problems/(?P<slug>[a-z0-9][a-z0-9-]*)(?:/[a-z0-9_/-]*)?$"),
    ),
    Platform(
        id="atcoder",
        name="AtCoder",
        aliases=("atcoder", "앳코더"),
        hosts=("atcoder.jp",),
        pages=_pages(r"^/contests/[A-Za-z0-9_-]+/tasks/(?P<id>[A-Za-z0-9_]+)/?$"),
    ),
)
BY_ID: dict[str, Platform] = {p.id: p for p in PLATFORMS}
# Nickname (lower case) -> platform id, for every known platform.
ALIASES: dict[str, str] = {alias: p.id for p in PLATFORMS for alias in (p.id, *p.aliases)}
_BY_HOST: dict[str, Platform] = {host: p for p in PLATFORMS for host in p.hosts}


def platform_of_alias(word: str) -> str | None:
    """The platform a name or nickname stands for (any case), or None."""
    return ALIASES.get(word.strip().lower())


def problem_of_url(text: str) -> ProblemRef | None:
    """The problem a pasted problem-page address of a known platform names, or None.

    Scheme and ``www.`` are optional (``acmicpc.net/problem/1000`` works); query strings and
    fragments are ignored. Codeforces ids join contest and index (``/contest/4/problem/A``
    -> ``4A``); LeetCode pages give the title slug."""
    raw = text.strip()
    if not raw or any(c.isspace() for c in raw):
        return None
    try:
        parts = urlsplit(raw if "://" in raw else f"https://{raw}")
        hostname = parts.hostname
    except ValueError:  # "[" without its "]" (an IPv6 host) and the like: not an address
        return None
    if parts.scheme not in ("http", "https") or not hostname:
        return None
    host = hostname.lower().removeprefix("www.")
    platform = _BY_HOST.get(host)
    if platform is None:
        return None
    for page in platform.pages:
        m = page.match(parts.path)
        if not m:
            continue
        found = m.groupdict()
        if found.get("slug"):
            return ProblemRef(platform.id, title_slug=found["slug"].lower())
        if found.get("contest"):
            return ProblemRef(platform.id, problem_id=f"{found['contest']}{found['index'].upper()}")
        return ProblemRef(platform.id, problem_id=found["id"])
    return None
