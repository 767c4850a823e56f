"""Issue 23 item 7: the judge's caches never evict what a running box has bound."""

from __future__ import annotations

import os
import time
from pathlib import Path

from algoitny_executions.adapters.cache import ArtifactCache, TestSetCache
from algoitny_executions.domain.judging import TestCase, TestSet


def _box(tmp_path: Path, name: str) -> Path:
    box = tmp_path / f"box-{name}"
    box.mkdir()
    (box / "main").write_bytes(name.encode())
    return box


def test_the_artifact_cache_keeps_a_program_a_box_is_running(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path / "artifacts", max_entries=1)
    with cache.hold("c", "a"):
        running = cache.store_from_box("c", "a", _box(tmp_path, "a"), ("main",))
        assert running is not None
        os.utime(running, (time.time() - 60, time.time() - 60))  # the oldest entry
        cache.store_from_box("c", "b", _box(tmp_path, "b"), ("main",))
        assert (running / "main").read_bytes() == b"a", "evicted while a box runs it"
    cache.store_from_box("c", "c", _box(tmp_path, "c"), ("main",))
    assert cache.get("c", "a") is None and cache.get("c", "c") is not None  # evictable once released


def test_the_test_set_cache_keeps_inputs_a_box_is_reading(tmp_path: Path) -> None:
    cache = TestSetCache(tmp_path / "tests", max_entries=1)

    def tests(key: str) -> TestSet:
        return TestSet(problem_key=key, version=1, cases=(TestCase(input=key.encode(), output=b""),))

    running = tests("p/a")
    with cache.hold(running):
        path = cache.materialise(running)
        cache.materialise(tests("p/b"))
        assert (path / "0").read_bytes() == b"p/a", "evicted while a box reads it"
    cache.materialise(tests("p/c"))
    assert not path.exists()
