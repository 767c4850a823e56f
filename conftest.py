"""Fixtures shared by every test: endpoints of the real local parts, per-run namespaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests run with the public development secrets; every other environment refuses them.
os.environ.setdefault("ALGOITNY_ENVIRONMENT", "test")

ROOT = Path(__file__).resolve().parent

pytest_plugins = ["support.fixtures", "support.legacy_cdc"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order tests that leave the shared e2e platform in a state others must not see: those marked
    ``injects_legacy_rows`` (legacy rows that are not in the legacy database) run after the tests
    that verify a whole import; those marked ``wipes_platform`` (every table emptied and restored
    under running services, whose caches and relays' shard leases do not expect it) run last.
    Files marked ``long_file`` run first: pytest-xdist hands out whole files in this order, so
    the long ones start at once instead of leaving one worker busy after the others are done."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("wipes_platform") is not None,
            item.get_closest_marker("injects_legacy_rows") is not None,
            item.get_closest_marker("long_file") is None,
        )
    )
