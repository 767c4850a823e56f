"""Deterministic identity of migrated rows: the same legacy row always becomes the same item.

Services build their own id formats from these (a user id, a time-sortable execution id),
so a redelivered or re-snapshotted row lands on the item it made before, and a legacy id
can always be resolved again without a lookup table of random ids.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed for ever: changing it would give every migrated row a new identity.
LEGACY_NAMESPACE = uuid.UUID("6f1d7c2e-9b55-4f0e-a3c1-2d8e5b7a4c10")


def legacy_ref(table: str, key: object) -> str:
    """``<table>:<primary key>``, the stable name of a legacy row."""
    return f"{table}:{key}"


def legacy_uuid(table: str, key: object) -> uuid.UUID:
    return uuid.uuid5(LEGACY_NAMESPACE, legacy_ref(table, key))


def legacy_entropy(table: str, key: object, size: int = 10) -> bytes:
    """``size`` bytes derived from the row's name: the random part of an id, made repeatable."""
    if not 1 <= size <= 32:
        raise ValueError("size must be 1..32")
    return hashlib.sha256(LEGACY_NAMESPACE.bytes + legacy_ref(table, key).encode()).digest()[:size]
