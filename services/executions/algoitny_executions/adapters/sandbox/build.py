"""Builds the in-box runner (runner.c) once per source version, with the host's gcc."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from pathlib import Path

RUNNER_SOURCE = Path(__file__).with_name("runner.c")


def build_runner(bin_dir: Path, cc: str = "/usr/bin/gcc") -> Path:
    """Path of the compiled runner (mode 0755, readable by every slot uid)."""
    source = RUNNER_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = bin_dir / f"runner-{digest}"
    if target.exists():
        return target
    bin_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(bin_dir, 0o755)
    tmp = bin_dir / f".runner-{uuid.uuid4().hex}"
    proc = subprocess.run(
        [cc, "-O2", "-Wall", "-o", str(tmp), str(RUNNER_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cannot build the judge runner: {proc.stderr.strip()}")
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return target
