"""Worker-local caches: compiled artifacts by (language, code hash), test inputs by version.

Both live under the judge's work root, readable (never writable) by the slot uids, and
are bound read-only into boxes. A test set is immutable per version, so the cache key is
the problem key's digest plus the version; only the inputs are written to disk (the
expected outputs never enter a box). Entries appear atomically (staging + rename), so
concurrent slots never see half an entry; the oldest entries beyond a bound are evicted,
except those held (:meth:`hold`) by a box that has them bound: removing a bound directory's
files would pull a program or its inputs out from under a running test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from algoitny_executions.adapters.sandbox import safe_fs
from algoitny_executions.domain.judging import TestSet

MAX_ARTIFACT_BYTES = 128 * 1024 * 1024


class _Holds:
    """Entry names in use by running boxes (counted: two slots may hold the same entry)."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._count: Counter[str] = Counter()

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._lock:
            self._count[name] += 1
        try:
            yield
        finally:
            with self._lock:
                self._count[name] -= 1
                if self._count[name] <= 0:
                    del self._count[name]

    def held(self, name: str) -> bool:
        """Call with the lock held."""
        return self._count[name] > 0


class ArtifactCache:
    def __init__(self, root: Path, max_entries: int = 512) -> None:
        self.root = root
        self.max_entries = max_entries
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        self._lock = threading.Lock()
        self._holds = _Holds(self._lock)
        self._compile_errors: OrderedDict[str, str] = OrderedDict()

    @staticmethod
    def _key(language: str, code_hash: str) -> str:
        return f"{language}-{code_hash}"

    def hold(self, language: str, code_hash: str) -> contextlib.AbstractContextManager[None]:
        """Keep this entry from eviction while a box uses it (take it before looking it up)."""
        return self._holds.hold(self._key(language, code_hash))

    def get(self, language: str, code_hash: str) -> Path | None:
        path = self.root / self._key(language, code_hash)
        if path.is_dir():
            os.utime(path)
            return path
        return None

    def store_from_box(self, language: str, code_hash: str, box: Path, patterns: tuple[str, ...]) -> Path | None:
        """Copy the compile box's artifacts in; None when the compiler produced none."""
        key = self._key(language, code_hash)
        copied = safe_fs.copy_out(box, patterns, self.root, key, MAX_ARTIFACT_BYTES)
        if not copied:
            return None
        self._evict()
        return self.root / key

    def compile_error(self, language: str, code_hash: str) -> str | None:
        with self._lock:
            return self._compile_errors.get(self._key(language, code_hash))

    def remember_compile_error(self, language: str, code_hash: str, message: str) -> None:
        with self._lock:
            self._compile_errors[self._key(language, code_hash)] = message
            while len(self._compile_errors) > self.max_entries:
                self._compile_errors.popitem(last=False)

    def _evict(self) -> None:
        with self._lock:
            entries = [p for p in self.root.iterdir() if not p.name.startswith(".")]
            if len(entries) <= self.max_entries:
                return
            entries.sort(key=lambda p: p.stat().st_mtime)
            excess = len(entries) - self.max_entries
            for path in entries:
                if excess <= 0:
                    break
                if self._holds.held(path.name):
                    continue
                shutil.rmtree(path, ignore_errors=True)
                excess -= 1


class TestSetCache:
    __test__ = False  # not a pytest class

    def __init__(self, root: Path, max_entries: int = 64) -> None:
        self.root = root
        self.max_entries = max_entries
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        self._lock = threading.Lock()
        self._holds = _Holds(self._lock)
        self._known: OrderedDict[str, Path] = OrderedDict()

    def hold(self, test_set: TestSet) -> contextlib.AbstractContextManager[None]:
        """Keep this set's inputs from eviction while a box uses them (take it before materialising)."""
        return self._holds.hold(test_set.cache_key)

    def materialise(self, test_set: TestSet) -> Path:
        """The directory holding ``0``, ``1``, ... (the inputs) of this test-set version."""
        key = test_set.cache_key
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
                return known
        path = self.root / key
        if not path.is_dir():
            staging = self.root / f".staging-{uuid.uuid4().hex}"
            os.mkdir(staging, 0o755)
            for i, case in enumerate(test_set.cases):
                fd = os.open(staging / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    view = memoryview(case.input)
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
            try:
                os.rename(staging, path)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
        with self._lock:
            self._known[key] = path
            self._known.move_to_end(key)
            for old_key in list(self._known)[: max(0, len(self._known) - self.max_entries)]:
                if not self._holds.held(old_key):
                    shutil.rmtree(self._known.pop(old_key), ignore_errors=True)
        return path
