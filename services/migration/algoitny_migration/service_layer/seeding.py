"""``seed-legacy``: fill the legacy database with generated data (see domain.legacy_data)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from algoitny_migration.domain.legacy_data import LegacyDataset, generate


class SeedTarget(Protocol):
    def apply_schema(self) -> None: ...
    def is_empty(self) -> bool: ...
    def truncate(self) -> None: ...
    def load(self, ds: LegacyDataset, progress: Callable[[str, int], None] | None = None) -> dict[str, int]: ...


@dataclass
class SeedReport:
    scale: str
    seed: int
    seeded: bool
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    generate_s: float = 0.0
    load_s: float = 0.0
    demo_passwords: dict[str, str] = field(default_factory=dict)  # e-mail -> password (a few)


def seed_legacy(
    db: SeedTarget,
    *,
    scale: str = "small",
    seed: int = 15,
    now: datetime | None = None,
    if_empty: bool = False,
    replace: bool = False,
    progress: Callable[[str, int], None] | None = None,
    on_generated: Callable[[LegacyDataset], None] | None = None,
) -> SeedReport:
    db.apply_schema()
    if not db.is_empty():
        if if_empty:
            return SeedReport(scale, seed, False, "the legacy database already holds data")
        if not replace:
            raise ValueError("the legacy database already holds data: use --replace to empty it first, or --if-empty")
        db.truncate()
    t0 = time.perf_counter()
    ds = generate(scale, seed, now)
    t1 = time.perf_counter()
    if on_generated is not None:
        on_generated(ds)
    counts = db.load(ds, progress)
    t2 = time.perf_counter()
    emails = {u["id"]: u["email"] for u in ds.rows["users"]}
    demo = {emails[uid]: pw for uid, pw in sorted(ds.passwords.items())[:6] if uid in emails}
    return SeedReport(scale, seed, True, "", counts, round(t1 - t0, 3), round(t2 - t1, 3), demo)
