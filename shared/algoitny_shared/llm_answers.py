"""What a caller's answer parser raises (no I/O, so domain code may import it)."""

from __future__ import annotations


class MalformedAnswer(ValueError):
    """The model answered, but not with the JSON the caller asked for (retried)."""
