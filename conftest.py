"""Fixtures shared by every test: endpoints of the real local parts, per-run namespaces."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Tests run with the public development secrets; every other environment refuses them.
os.environ.setdefault("ALGOITNY_ENVIRONMENT", "test")

ROOT = Path(__file__).resolve().parent
for extra in (ROOT / "tests", ROOT / "deploy" / "local"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

pytest_plugins = ["support.fixtures", "support.legacy_cdc"]
