"""A moto server of the repository's own (deploy/local/moto_server.py) on a free loopback port.

Heavy tests and benchmarks run on it so that they neither slow down nor depend on the shared
one, and always run the repository's version of the wrapper.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_moto() -> Iterator[str]:
    """The repository's moto server on a port of its own: heavy tests neither slow down nor depend on
    the shared one (and always run the repository's version of the wrapper)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "deploy" / "local" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("private moto did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
