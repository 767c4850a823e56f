"""Key formats of the problems tables, in one place."""

from __future__ import annotations

from datetime import datetime


def ts(value: datetime) -> str:
    """Fixed-width UTC timestamps, so that strings sort like times in GSI range keys."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def problem_key(platform: str, problem_id: str, incarnation: str) -> str:
    """Test cases of one incarnation of a problem (a re-created problem never sees old cases)."""
    return f"{platform}#{problem_id}#{incarnation}"


def case_key(test_set_version: int, ordinal: int) -> str:
    return f"{test_set_version:06d}#{ordinal:06d}"
