"""API fuzzing, short version (inside `make test`; `make fuzz` runs the long one): schemathesis
against the gateway's OpenAPI document, anonymous and as a signed-in user, for a bounded time.
No response may be a 5xx or break the documented schema."""

from __future__ import annotations

import json

import pytest
from fuzz.run import run

pytestmark = [pytest.mark.e2e, pytest.mark.long_file, pytest.mark.timeout(420)]


def test_no_5xx_and_no_schema_violations(stack_env: dict[str, str]) -> None:
    report = run(max_time=30, seed=5, only=["anonymous", "user"])
    for r in report["runs"]:
        assert r["operations"] > 20, r  # the whole composed document was exercised
    assert report["ok"], json.dumps(report["runs"], indent=1)
