"""One vocabulary of programming languages for every service.

The judge (executions) registers how each language is compiled and run under these ids;
problems stores a reference solution's language under the same id, and search filters on
it. Older names (``python``, ``cpp``, ``java``, ...) are accepted on input as aliases and
normalised to the id, so stored data and events only ever carry the ids below.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BeforeValidator

LanguageId = Literal["c", "cpp17", "python3", "java17", "javascript", "pypy3", "go", "rust", "kotlin"]
LANGUAGE_IDS: tuple[str, ...] = ("c", "cpp17", "python3", "java17", "javascript", "pypy3", "go", "rust", "kotlin")
ALIASES: dict[str, str] = {
    "python": "python3",
    "py": "python3",
    "py3": "python3",
    "cpp": "cpp17",
    "c++": "cpp17",
    "c++17": "cpp17",
    "gnu++17": "cpp17",
    "java": "java17",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "pypy": "pypy3",
    "golang": "go",
    "rs": "rust",
    "kt": "kotlin",
}


class UnknownLanguage(ValueError):
    pass


def normalise(name: str) -> str:
    """The language id of ``name`` (an id or an alias, any case); raises UnknownLanguage."""
    key = name.strip().lower()
    if key in LANGUAGE_IDS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise UnknownLanguage(f"unknown language {name!r}; use one of {', '.join(LANGUAGE_IDS)}")


def normalise_or_none(name: str | None) -> str | None:
    return None if name is None else normalise(name)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().lower()
        return ALIASES.get(key, key)
    return value


JudgeLanguage: TypeAlias = Annotated[LanguageId, BeforeValidator(_coerce)]
"""A pydantic field type: accepts ids and aliases, holds the id."""
