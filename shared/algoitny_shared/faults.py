"""Fault injection for crash tests: a named point kills the process when enabled in settings.

Points are enabled only through ``ALGOITNY_FAULT_POINTS``; production leaves it empty.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

CRASH_AFTER_COMMIT = "crash_after_commit"
# Midway through writing a test set's chunks, before the flip (problems service).
CRASH_MID_TEST_SET_UPLOAD = "crash_mid_test_set_upload"


def crash_point(name: str, enabled: frozenset[str]) -> None:
    if name in enabled:
        log.warning("fault injection: SIGKILL at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
