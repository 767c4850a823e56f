"""Fault injection for crash tests: a named point kills the process when enabled in settings.

Points are enabled only through ``ALGOITNY_FAULT_POINTS``; production leaves it empty.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

# The point of the shared unit of work (every service): after a transaction committed, before
# anything else happens. A service's own points are declared in the service, next to their use.
CRASH_AFTER_COMMIT = "crash_after_commit"


def crash_point(name: str, enabled: frozenset[str]) -> None:
    if name in enabled:
        log.warning("fault injection: SIGKILL at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
