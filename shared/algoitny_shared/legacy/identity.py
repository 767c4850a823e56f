"""Deterministic identity of migrated rows: the same legacy row always becomes the same item.

Services build their own id formats from these (a user id, a time-sortable execution id),
so a redelivered or re-snapshotted row lands on the item it made before, and a legacy id
can always be resolved again without a lookup table of random ids.
"""

from __future__ import annotations

import base64
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


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def legacy_ulid(table: str, key: object, moment_ms: int) -> str:
    """A 26-character ULID (48-bit milliseconds + 80 bits) whose time part is the row's own time
    (e.g. its ``created_at``) and whose random part is :func:`legacy_entropy`: time-sortable
    among new ids, and the same for the same row every time."""
    value = (max(0, moment_ms) << 80) | int.from_bytes(legacy_entropy(table, key, 10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def legacy_user_id(legacy_id: object) -> str:
    """The new platform's user id of legacy ``users.id``: ``u_`` + 22 url-safe characters, the same
    shape as a new user's id (accounts' ``new_user_id``), derived from :func:`legacy_uuid`. Every
    service that meets a legacy user id (executions' history, ratelimit's usage) maps it with this."""
    return "u_" + base64.urlsafe_b64encode(legacy_uuid("users", legacy_id).bytes).rstrip(b"=").decode()


def legacy_execution_id(legacy_id: object, created_at_ms: int) -> str:
    """The execution id of legacy ``search_history.id`` (executions' item and hints' stored hints)."""
    return legacy_ulid("search_history", legacy_id, created_at_ms)


def legacy_plan_id(legacy_id: object) -> str:
    """The plan id (ratelimit's ``SubscriptionPlans``) of legacy subscription plan ``legacy_id``."""
    return f"legacy-{int(str(legacy_id))}"
