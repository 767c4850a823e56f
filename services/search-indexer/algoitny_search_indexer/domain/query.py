"""What a search asks for, validated (no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.languages import ALIASES, LANGUAGE_IDS
from algoitny_shared.platforms import ALIASES as PLATFORM_ALIASES
from algoitny_shared.platforms import PLATFORM_RE, PROBLEM_ID_RE, problem_of_url

MAX_QUERY_CHARS = 200
MAX_FILTER_VALUES = 10
PUBLIC_STATUSES = ("completed",)
MANAGER_STATUSES = ("completed", "draft")
LANGUAGES = frozenset(LANGUAGE_IDS)
TAG_RE = re.compile(r"^[^\x00-\x1f]{1,64}$")
# Query parameters the search accepts; anything else is refused (a typo in a filter name
# would otherwise silently widen the search).
SEARCH_PARAMS = frozenset({"q", "platform", "tags", "language", "status", "cursor", "limit"})
SUGGEST_PARAMS = frozenset({"q", "platform", "limit"})
MAX_SUGGEST_CHARS = 100
# Between the platform name and the id: nothing, spaces, or one of these ("boj-1000", "cf#4A").
_SEPARATORS = "-:#/"
# "158 A", "1520 a1": a Codeforces-style contest number and problem index typed apart.
_SPLIT_INDEX = re.compile(r"^(\d+)\s+([A-Za-z]\d?)$")
# "1000번", "1000 번 문제": problem number 1000, the Korean way.
_NUMBERED = re.compile(r"^(\d+)\s*번(?:\s*문제)?$")


@dataclass(frozen=True)
class Interpretation:
    """What the query names, read the way competitive programmers type (no I/O).

    ``platform``: a known platform named in front (``boj 1000``, ``cf4A``, ``백준 미로``) or by
    a pasted problem-page address. ``problem_id``: the id that follows it, or the URL's.
    ``title_slug``: a pasted page named by its title (LeetCode). ``rest``: the text to match
    titles, ids and tags against (the query without the platform name; empty for a URL)."""

    rest: str
    platform: str | None = None
    problem_id: str | None = None
    title_slug: str | None = None

    @property
    def is_url(self) -> bool:
        return self.platform is not None and not self.rest


def _as_id(text: str) -> str | None:
    joined = _NUMBERED.sub(r"\1", _SPLIT_INDEX.sub(r"\1\2", text))
    return joined if PROBLEM_ID_RE.match(joined) else None


def interpret(text: str) -> Interpretation:
    """Split a platform name or nickname (any case, with or without a space) and an id off
    the query, or read a pasted problem URL; otherwise the query is plain text."""
    ref = problem_of_url(text)
    if ref is not None:
        return Interpretation("", ref.platform, ref.problem_id, ref.title_slug)
    head, _, tail = text.partition(" ")
    lowered = head.lower()
    platform = PLATFORM_ALIASES.get(lowered.rstrip(_SEPARATORS))
    if platform is not None and tail.strip():
        rest = tail.strip().lstrip(_SEPARATORS).strip()
        if rest:
            pid = _as_id(rest)
            return Interpretation(pid if pid and _NUMBERED.match(rest) else rest, platform, pid)
    # Glued: "boj1000", "CF4A", "백준1753": a nickname, then an id starting with a digit.
    for alias, name in PLATFORM_ALIASES.items():
        if lowered.startswith(alias) and len(lowered) > len(alias):
            glued = head[len(alias) :].lstrip(_SEPARATORS)
            rest = f"{glued} {tail}".strip() if tail else glued
            if glued[:1].isdigit() and (pid := _as_id(rest)) is not None:
                return Interpretation(pid if _NUMBERED.match(rest) else rest, name, pid)
    if _NUMBERED.match(text):  # 2178번: the id 2178
        return Interpretation(_NUMBERED.sub(r"\1", text))
    return Interpretation(text)


@dataclass(frozen=True)
class SearchSpec:
    text: str
    statuses: tuple[str, ...] = PUBLIC_STATUSES
    platforms: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    limit: int = 20
    search_after: list[Any] | None = None
    facets: bool = True

    @property
    def meaning(self) -> Interpretation:
        return interpret(self.text)

    def scope(self) -> str:
        """What a cursor is bound to: the same text, filters and visibility."""
        return "|".join(
            [
                "search",
                self.text,
                ",".join(self.statuses),
                ",".join(self.platforms),
                ",".join(self.languages),
                ",".join(self.tags),
            ]
        )


def _split(values: list[str], name: str) -> tuple[str, ...]:
    """Repeated parameters and comma-separated lists both work: ?tags=a&tags=b or ?tags=a,b."""
    out: list[str] = []
    for value in values:
        out.extend(p.strip() for p in value.split(",") if p.strip())
    if len(out) > MAX_FILTER_VALUES:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"{name} takes at most {MAX_FILTER_VALUES} values")
    return tuple(dict.fromkeys(out))


def normalise_text(q: str, max_chars: int = MAX_QUERY_CHARS) -> str:
    text = " ".join(q.split())
    if not text:
        raise AppError(ErrorCode.VALIDATION_FAILED, "The query must contain at least one non-space character")
    if len(text) > max_chars:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"The query is longer than {max_chars} characters")
    return text


def _platforms(platform: list[str] | None) -> tuple[str, ...]:
    platforms = _split(platform or [], "platform")
    if any(not PLATFORM_RE.match(p) for p in platforms):
        raise AppError(ErrorCode.VALIDATION_FAILED, "platform must be lower-case letters, digits, '-' or '_'")
    return tuple(sorted(platforms))


# Hangul syllables are composed as one types: 탐 goes ㅌ, 타, 탐; 닭 goes 다, 달, 닭; and the
# final consonant of 각 may still move on (가자 is typed 가, 각, 가자). Syllable = 0xAC00 +
# (initial * 21 + medial) * 28 + final.
_SYLLABLES = range(0xAC00, 0xD7A4)
_JAMO = range(0x3131, 0x3164)  # compatibility jamo: a consonant or vowel typed alone
# A final that another consonant can still extend (ㄱ->ㄳ, ㄴ->ㄵ ㄶ, ㄹ->ㄺ..ㅀ, ㅂ->ㅄ).
_FINAL_EXTENSIONS = {1: (3,), 4: (5, 6), 8: (9, 10, 11, 12, 13, 14, 15), 17: (18,)}
# A double final loses its second consonant to the next syllable (닭 of 달기), keeping this.
_DOUBLE_FINAL_FIRST = {3: 1, 5: 4, 6: 4, 9: 8, 10: 8, 11: 8, 12: 8, 13: 8, 14: 8, 15: 8, 18: 17}
_TRAILING_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u3163]+$")


def _being_typed(syllable: str) -> list[str]:
    """Syllables the one on screen may still become, itself first."""
    code = ord(syllable) - 0xAC00
    base, final = code - code % 28, code % 28
    if final == 0:
        return [chr(0xAC00 + base + f) for f in range(28)]
    out = [syllable, *(chr(0xAC00 + base + f) for f in _FINAL_EXTENSIONS.get(final, ()))]
    # The (last) final may be the next syllable's start: 각 of 가자, 닭 of 달기.
    out.append(chr(0xAC00 + base + _DOUBLE_FINAL_FIRST.get(final, 0)))
    return out


def hangul_being_typed(text: str) -> tuple[str, list[str]] | None:
    """When the query ends in Hangul, the text before its last Hangul run and the prefixes that
    run may stand for while its last syllable is still being composed (`미로 타` -> `미로`,
    [타, 탁, .., 탐, ..]); a consonant typed alone at the end is left out (`탐ㅅ` -> [탐]).
    None when nothing is being composed."""
    m = _TRAILING_HANGUL.search(text)
    if m is None:
        return None
    typed = m.group()
    run = typed.rstrip("".join(chr(c) for c in _JAMO))
    before = text[: m.start()].strip()
    if any(ord(c) not in _SYLLABLES for c in run):
        return None
    if not run:
        return (before, []) if before else None
    if run != typed:  # a consonant or vowel of the next syllable follows: this one is complete
        return before, [run]
    return before, [run[:-1] + s for s in _being_typed(run[-1])]


@dataclass(frozen=True)
class SuggestSpec:
    """Suggestions as you type: completed problems only, no facets, no paging."""

    text: str
    platforms: tuple[str, ...] = ()
    limit: int = 8

    @property
    def meaning(self) -> Interpretation:
        return interpret(self.text)


def make_suggest_spec(q: str, *, platform: list[str] | None = None, limit: int = 8) -> SuggestSpec:
    return SuggestSpec(text=normalise_text(q, MAX_SUGGEST_CHARS), platforms=_platforms(platform), limit=limit)


def make_spec(
    q: str,
    *,
    platform: list[str] | None = None,
    tags: list[str] | None = None,
    language: list[str] | None = None,
    status: list[str] | None = None,
    limit: int = 20,
    may_see_drafts: bool = False,
) -> SearchSpec:
    text = normalise_text(q)
    platforms = _platforms(platform)
    languages = tuple(dict.fromkeys(ALIASES.get(v.lower(), v.lower()) for v in _split(language or [], "language")))
    if any(lang not in LANGUAGES for lang in languages):
        raise AppError(ErrorCode.VALIDATION_FAILED, f"language must be one of {', '.join(sorted(LANGUAGES))}")
    tag_values = tuple(dict.fromkeys(t.lower() for t in _split(tags or [], "tags")))
    if any(not TAG_RE.match(t) for t in tag_values):
        raise AppError(ErrorCode.VALIDATION_FAILED, "a tag is 1 to 64 printable characters")
    statuses = _split(status or [], "status")
    allowed = MANAGER_STATUSES if may_see_drafts else PUBLIC_STATUSES
    if any(s not in MANAGER_STATUSES for s in statuses):
        raise AppError(ErrorCode.VALIDATION_FAILED, "status must be completed or draft")
    if any(s not in allowed for s in statuses):
        raise AppError(ErrorCode.FORBIDDEN, "Only admins can search drafts")
    return SearchSpec(
        text=text,
        statuses=tuple(sorted(statuses or allowed)),
        platforms=platforms,
        languages=tuple(sorted(languages)),
        tags=tuple(sorted(tag_values)),
        limit=limit,
    )
