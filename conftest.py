"""Fixtures shared by every test: endpoints of the real local parts, per-run namespaces."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Tests run with the public development secrets; every other environment refuses them.
os.environ.setdefault("ALGOITNY_ENVIRONMENT", "test")

ROOT = Path(__file__).resolve().parent
for extra in (ROOT / "tests", ROOT / "deploy" / "local"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

pytest_plugins = ["support.fixtures", "support.legacy_cdc"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``wipes_platform`` empty and restore the shared e2e platform's tables, which
    running services (their caches, the outbox relays' shard leases) do not expect: they run
    after every other test, so nothing else ever sees the platform in that state."""
    items.sort(key=lambda item: item.get_closest_marker("wipes_platform") is not None)
