"""Toolchain directories the judge prepares once on the host and binds read-only into boxes.

* ``go``: the Go compiler and linker binaries and the standard library packages contestants
  use, compiled once per Go version (``go list -export``) with an ``importcfg`` naming them
  at their in-box paths, so a submission compiles with ``compile`` + ``link`` alone: no
  ``go build``, module resolution, build cache or network inside the box.
* ``kotlin``: the Kotlin compiler's jars (fetched by ``deploy/local/infra.sh install``) and its
  runtime ``kotlin-stdlib.jar``.
* ``pch-<key>``: ``bits/stdc++.h`` precompiled for one C++ language's exact flags. The key is
  the compiler's version and the fingerprint (path, size, mtime) of ``g++`` and ``cc1plus``
  plus the flags, so a compiler upgrade yields a new key: :meth:`Toolchains.pch` re-checks the
  fingerprint (two ``stat`` calls) before every C++ compile and rebuilds when it changed.

Everything is built from trusted inputs only (system headers, the standard library, jars of
the deployment), as the service's own user, into a temporary directory that is renamed into
place, so judges sharing one cache directory (namespaces, test runs) never see a partial one.
Every directory is 0755 and every file 0644/0755 owned by the service user: the slot uids can
read them, never change them, and boxes see them read-only besides.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# The standard library packages compiled for Go submissions (with their dependencies): what
# contest solutions import. Anything else is a compile error ("could not import").
GO_PACKAGES: tuple[str, ...] = (
    "bufio",
    "bytes",
    "cmp",
    "container/heap",
    "container/list",
    "container/ring",
    "errors",
    "fmt",
    "io",
    "maps",
    "math",
    "math/big",
    "math/bits",
    "math/cmplx",
    "math/rand",
    "math/rand/v2",
    "os",
    "regexp",
    "slices",
    "sort",
    "strconv",
    "strings",
    "sync",
    "sync/atomic",
    "time",
    "unicode",
    "unicode/utf8",
)
GO_CANDIDATES = ("/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/usr/bin/go")
GO_LIST_FORMAT = "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}"
KOTLIN_STDLIB = "kotlin-stdlib.jar"
PREPARE_TIMEOUT_S = 600


class ToolchainError(RuntimeError):
    pass


@dataclass(frozen=True)
class PchInfo:
    key: str
    directory: Path
    """Holds ``bits/stdc++.h.gch``; bound at ``/opt/pch`` and passed as ``-I /opt/pch``."""


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:16]


def _stat_print(path: str) -> str:
    real = os.path.realpath(path)
    st = os.stat(real)
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def _publish(tmp: Path, target: Path) -> Path:
    """Make ``tmp`` readable by everyone and rename it to ``target`` (another judge may have won)."""
    for dirpath, _dirs, filenames in os.walk(tmp):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)
    try:
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=PREPARE_TIMEOUT_S, **kwargs)  # type: ignore[call-overload]


class Toolchains:
    """The prepared toolchain directories under ``root`` (shared by judges; content-keyed)."""

    def __init__(
        self,
        root: Path,
        *,
        go: str | None = None,
        kotlin_lib: Path | None = None,
        gxx: str = "/usr/bin/g++",
    ) -> None:
        self.root = root
        self.go = go
        self.kotlin_lib = kotlin_lib
        self.gxx = gxx
        self.mounts: dict[str, Path] = {}
        self.errors: dict[str, str] = {}
        self._pch: dict[tuple[str, ...], PchInfo | None] = {}
        self._pch_print: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()
        self._cc1plus: str | None = None
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)

    # -- preparing -------------------------------------------------------------------------

    def prepare(self, mounts: Iterable[str], pch_flag_sets: Iterable[tuple[str, ...]] = ()) -> None:
        """Prepare the named mounts and the precompiled headers; what fails is logged and left out."""
        for name in sorted(set(mounts)):
            try:
                if name == "go":
                    self.mounts[name] = self._prepare_go()
                elif name == "kotlin":
                    self.mounts[name] = self._prepare_kotlin()
                else:
                    raise ToolchainError(f"unknown toolchain mount {name!r}")
            except (ToolchainError, OSError, subprocess.SubprocessError) as exc:
                self.errors[name] = str(exc)
                log.warning("toolchain %s unavailable: %s", name, exc)
        for flags in pch_flag_sets:
            self.pch(flags)

    def _find_go(self) -> str:
        for candidate in (self.go, shutil.which("go"), *GO_CANDIDATES):
            if candidate and os.access(candidate, os.X_OK):
                return os.path.realpath(candidate)
        raise ToolchainError("no Go toolchain (set ALGOITNY_JUDGE_GO or install golang-go)")

    def _prepare_go(self) -> Path:
        go = self._find_go()
        env = {"PATH": "/usr/bin:/bin", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "", "GOPROXY": "off"}
        version = _run([go, "version"], env=env)
        goroot = _run([go, "env", "GOROOT"], env=env).stdout.strip()
        if version.returncode != 0 or not goroot:
            raise ToolchainError(f"cannot run {go}: {version.stderr.strip()}")
        key = _digest(version.stdout.strip(), goroot, _stat_print(go), *GO_PACKAGES)
        target = self.root / f"go-{key}"
        if (target / "importcfg").is_file():
            return target
        log.info("compiling the Go standard library for the judge (%s), once per Go version", version.stdout.strip())
        tmp = Path(tempfile.mkdtemp(prefix=".go-", dir=self.root))
        try:
            build_env = {**env, "GOCACHE": str(tmp / "cache"), "HOME": str(tmp), "GOROOT": goroot}
            listed = _run(
                [go, "list", "-deps", "-export", "-f", GO_LIST_FORMAT, *GO_PACKAGES],
                env=build_env,
                cwd=tmp,
            )
            if listed.returncode != 0:
                raise ToolchainError(f"go list failed: {listed.stderr.strip()[-500:]}")
            (tmp / "pkg").mkdir()
            (tmp / "tools").mkdir()
            lines = []
            for n, line in enumerate(sorted(listed.stdout.split())):
                path, _, export = line.partition("=")
                shutil.copyfile(export, tmp / "pkg" / f"{n}.a")
                lines.append(f"packagefile {path}=/opt/go/pkg/{n}.a")
            (tmp / "importcfg").write_text("\n".join(lines) + "\n")
            tool_dir = Path(_run([go, "env", "GOTOOLDIR"], env=build_env).stdout.strip())
            for tool in ("compile", "link"):
                shutil.copy2(tool_dir / tool, tmp / "tools" / tool)
            shutil.rmtree(tmp / "cache", ignore_errors=True)
            return _publish(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _find_kotlin_lib(self) -> Path:
        candidates = [self.kotlin_lib] if self.kotlin_lib else []
        local = os.environ.get("ALGOITNY_LOCAL_DIR")
        if local:
            candidates.append(Path(local) / "kotlin" / "lib")
        candidates.append(Path(__file__).resolve().parents[5] / ".local" / "kotlin" / "lib")
        for candidate in candidates:
            if candidate and any(candidate.glob("kotlin-compiler-embeddable-*.jar")):
                return candidate
        raise ToolchainError("no Kotlin compiler jars (`make install` fetches them; or set ALGOITNY_JUDGE_KOTLIN_LIB)")

    def _prepare_kotlin(self) -> Path:
        lib = self._find_kotlin_lib()
        jars = sorted(p for p in lib.glob("*.jar") if p.is_file())
        key = _digest(*(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in jars))
        target = self.root / f"kotlin-{key}"
        if (target / KOTLIN_STDLIB).is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".kotlin-", dir=self.root))
        try:
            for jar in jars:
                is_stdlib = jar.name.startswith("kotlin-stdlib-") and jar.name[len("kotlin-stdlib-") :][:1].isdigit()
                shutil.copyfile(jar, tmp / (KOTLIN_STDLIB if is_stdlib else jar.name))
            if not (tmp / KOTLIN_STDLIB).is_file():
                raise ToolchainError(f"no kotlin-stdlib jar in {lib}")
            return _publish(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- precompiled headers -----------------------------------------------------------------

    def _compiler_print(self) -> str:
        if self._cc1plus is None:
            self._cc1plus = _run([self.gxx, "-print-prog-name=cc1plus"]).stdout.strip()
        cc1plus = self._cc1plus
        return f"{_stat_print(self.gxx)}|{_stat_print(cc1plus) if os.path.isabs(cc1plus) else cc1plus}"

    def pch(self, flags: tuple[str, ...]) -> PchInfo | None:
        """The precompiled ``bits/stdc++.h`` for these flags, (re)built if the compiler changed;
        None when it cannot be built (compiles then go without it, only slower)."""
        if not flags:
            return None
        with self._lock:
            try:
                fingerprint = self._compiler_print()
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("no precompiled header: %s", exc)
                return None
            if self._pch_print.get(flags) == fingerprint:
                return self._pch.get(flags)
            info = None
            try:
                info = self._build_pch(flags, fingerprint)
            except (ToolchainError, OSError, subprocess.SubprocessError) as exc:
                log.warning("no precompiled header for %s: %s", " ".join(flags), exc)
                self.errors[f"pch {' '.join(flags)}"] = str(exc)
            self._pch[flags] = info
            self._pch_print[flags] = fingerprint
            return info

    def _build_pch(self, flags: tuple[str, ...], fingerprint: str) -> PchInfo:
        version = _run([self.gxx, "-dumpfullversion", "-dumpmachine"]).stdout.strip()
        probe = _run(
            [self.gxx, *flags, "-x", "c++", "-E", "-H", "-o", "/dev/null", "-"], input="#include <bits/stdc++.h>\n"
        )
        first = next((line for line in probe.stderr.splitlines() if line.startswith(". ")), "")
        header = first[2:].strip()
        if not header.endswith("bits/stdc++.h"):
            raise ToolchainError(f"cannot find bits/stdc++.h: {probe.stderr.strip()[-300:]}")
        key = _digest(version, fingerprint, _stat_print(header), *flags)
        target = self.root / f"pch-{key}"
        gch = target / "bits" / "stdc++.h.gch"
        if gch.is_file():
            return PchInfo(key=key, directory=target)
        log.info("precompiling bits/stdc++.h for %s", " ".join(flags))
        tmp = Path(tempfile.mkdtemp(prefix=".pch-", dir=self.root))
        try:
            (tmp / "bits").mkdir()
            built = _run([self.gxx, *flags, "-x", "c++-header", header, "-o", str(tmp / "bits" / "stdc++.h.gch")])
            if built.returncode != 0:
                raise ToolchainError(f"g++ failed: {built.stderr.strip()[-500:]}")
            # It must really be picked up with these flags (-H marks a used one with "!").
            check = _run(
                [self.gxx, *flags, "-I", str(tmp), "-H", "-fsyntax-only", "-x", "c++", "-"],
                input="#include <bits/stdc++.h>\nint main(){}\n",
            )
            if f"! {tmp}/bits/stdc++.h.gch" not in check.stderr:
                raise ToolchainError(f"the precompiled header is not used: {check.stderr.strip()[:300]}")
            _publish(tmp, target)
            return PchInfo(key=key, directory=target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
