"""The web app's types come from the gateway's OpenAPI document: both generated files are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"


def test_openapi_document_of_the_web_app_is_current() -> None:
    check = subprocess.run(
        [sys.executable, "web/scripts/dump_openapi.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_typescript_types_are_generated_from_that_document() -> None:
    assert (WEB / "node_modules" / ".bin" / "openapi-typescript").exists(), "run `make web` (make test does)"
    check = subprocess.run(["node", "scripts/check-types.mjs"], cwd=WEB, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
