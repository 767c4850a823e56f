"""A moto server of the repository's own (deploy/local/moto_server.py) on a free loopback port,
started from the dev stack's registry (algoitny_devtools) like the shared one.

Heavy tests and benchmarks run on it so that they neither slow down nor depend on the shared
one, and always run the repository's version of the wrapper.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from algoitny_devtools.launcher import private_config, running_part
from algoitny_devtools.registry import free_port

REPO = Path(__file__).resolve().parents[2]
__all__ = ["REPO", "free_port", "private_moto"]


@contextlib.contextmanager
def private_moto() -> Iterator[str]:
    """The repository's moto server on a port of its own: heavy tests neither slow down nor depend on
    the shared one (and always run the repository's version of the wrapper)."""
    state = Path(tempfile.mkdtemp(prefix="algoitny-moto-"))
    cfg = private_config(state, moto_port=free_port(), timeout_s=30.0)
    try:
        with running_part("moto", cfg):
            yield f"http://127.0.0.1:{cfg.moto_port}"
    finally:
        shutil.rmtree(state, ignore_errors=True)
