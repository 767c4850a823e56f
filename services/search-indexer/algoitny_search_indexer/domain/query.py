"""What a search asks for, validated (no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.languages import ALIASES, LANGUAGE_IDS

MAX_QUERY_CHARS = 200
MAX_FILTER_VALUES = 10
PUBLIC_STATUSES = ("completed",)
MANAGER_STATUSES = ("completed", "draft")
LANGUAGES = frozenset(LANGUAGE_IDS)
PLATFORM_RE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
TAG_RE = re.compile(r"^[^\x00-\x1f]{1,64}$")
# Query parameters the search accepts; anything else is refused (a typo in a filter name
# would otherwise silently widen the search).
SEARCH_PARAMS = frozenset({"q", "platform", "tags", "language", "status", "cursor", "limit"})


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


def normalise_text(q: str) -> str:
    text = " ".join(q.split())
    if not text:
        raise AppError(ErrorCode.VALIDATION_FAILED, "The query must contain at least one non-space character")
    if len(text) > MAX_QUERY_CHARS:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"The query is longer than {MAX_QUERY_CHARS} characters")
    return text


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
    platforms = _split(platform or [], "platform")
    if any(not PLATFORM_RE.match(p) for p in platforms):
        raise AppError(ErrorCode.VALIDATION_FAILED, "platform must be lower-case letters, digits, '-' or '_'")
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
        platforms=tuple(sorted(platforms)),
        languages=tuple(sorted(languages)),
        tags=tuple(sorted(tag_values)),
        limit=limit,
    )
