"""The migration's phase, written once: who owns the data, whether the platform takes writes.

The migration tool (services/migration) owns the phase (its State table) and publishes every
change as ``migration.MigrationPhaseChanged`` on the migration topic; the gateway follows the topic
and refuses writes to legacy-owned data while ``writes_open`` is false.

    open ──start──> migrating ──cutover──> cut_over ──rollback──> rolling_back ──> rolled_back
                                             ^   └──finish──> open        │ gate failed   │
                                             └───────────────────────────-┘ (back)        │
                                             └───────────────cutover (again)──────────────┘

``open`` is the platform without a migration (the default: no event on the topic), and what a
finished migration returns to. In ``migrating`` and ``rolled_back`` the legacy database owns the
data; in ``rolling_back`` neither side takes writes (the reverse writer drains, then the legacy
side is made writable).
"""

from __future__ import annotations

from typing import Literal, get_args

Phase = Literal["open", "migrating", "cut_over", "rolling_back", "rolled_back"]
PHASES: tuple[Phase, ...] = get_args(Phase)
DEFAULT_PHASE: Phase = "open"

# Phases in which the platform owns the data and takes writes.
WRITES_OPEN: frozenset[Phase] = frozenset({"open", "cut_over"})

# Allowed moves: (from, to) -> the command that makes it.
TRANSITIONS: dict[tuple[Phase, Phase], str] = {
    ("open", "migrating"): "start",
    ("migrating", "cut_over"): "cutover",
    ("rolled_back", "cut_over"): "cutover",
    ("cut_over", "rolling_back"): "rollback",
    ("rolling_back", "rolled_back"): "rollback",
    ("rolling_back", "cut_over"): "rollback",  # a rollback gate failed: the platform keeps the data
    ("cut_over", "open"): "finish",
    ("migrating", "open"): "abandon",
    ("rolled_back", "open"): "abandon",
}

# The reason code clients receive with a refused write (problem+json ``reason``).
READ_ONLY_REASON = "migration_read_only"
# Seconds a refused client is told to wait (Retry-After) before trying again.
RETRY_AFTER_S = 60


def writes_open(phase: str) -> bool:
    return phase in WRITES_OPEN


def may_move(current: str, target: str) -> bool:
    return (current, target) in TRANSITIONS
