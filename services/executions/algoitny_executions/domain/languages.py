"""The language registry: the one place that says how each language is compiled and run.

Paths are the real toolchain binaries (inside the sandbox /usr is the host's /usr,
read-only). Python is the system interpreter itself, never a version-manager shim,
which would cost ~30 ms per start. Commands use these placeholders, filled per run:
``{mem_mb}`` (the problem's memory limit, for the JVM's -Xmx / V8's heap size).

Sources are written as ``/box/<source_name>``; the compile step runs in /box and must
leave the files matching ``artifacts`` there; runs see them read-only under /prog.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from algoitny_shared.languages import LANGUAGE_IDS


@dataclass(frozen=True)
class Language:
    key: str
    name: str
    source_name: str
    compile_argv: tuple[str, ...]
    run_argv: tuple[str, ...]
    artifacts: tuple[str, ...]
    """Glob patterns (top level of /box) of the files the run needs."""
    time_factor: float = 1.0
    time_extra_ms: int = 0
    memory_extra_mb: int = 0
    """Allowance over the problem's limit for the runtime's own footprint (peak RSS)."""
    address_space_limit: bool = True
    """False for runtimes that reserve huge virtual ranges (JVM, V8): they get a heap flag instead."""
    address_space_extra_mb: int = 32
    nproc: int = 16
    compile_address_space_mb: int | None = 2048
    compile_cpu_ms: int = 10_000
    oom_markers: tuple[bytes, ...] = ()
    """Text on stderr that means the runtime ran out of its memory limit."""
    requires: tuple[str, ...] = field(default=())
    """Binaries that must exist on the host for the language to be offered."""

    def cpu_limit_ms(self, time_limit_ms: int) -> int:
        return int(time_limit_ms * self.time_factor) + self.time_extra_ms


GCC = "/usr/bin/gcc"
GXX = "/usr/bin/g++"
PYTHON = "/usr/bin/python3.11"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
NODE = "/usr/bin/node"

_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:ActiveProcessorCount=1",
    "-Xshare:auto",
)

C = Language(
    key="c",
    name="C (gcc 12, C17)",
    source_name="main.c",
    compile_argv=(GCC, "-std=gnu17", "-O2", "-pipe", "-DONLINE_JUDGE", "-o", "main", "main.c", "-lm"),
    run_argv=("/prog/main",),
    artifacts=("main",),
    requires=(GCC,),
)
CPP17 = Language(
    key="cpp17",
    name="C++17 (g++ 12)",
    source_name="main.cpp",
    compile_argv=(GXX, "-std=gnu++17", "-O2", "-pipe", "-DONLINE_JUDGE", "-o", "main", "main.cpp"),
    run_argv=("/prog/main",),
    artifacts=("main",),
    requires=(GXX,),
    oom_markers=(b"std::bad_alloc",),
)
PYTHON3 = Language(
    key="python3",
    name="Python 3.11",
    source_name="main.py",
    # A syntax check, so a syntax error is a compile error like in the compiled languages.
    compile_argv=(PYTHON, "-S", "-B", "-c", "import sys; compile(open('main.py','rb').read(), 'main.py', 'exec')"),
    run_argv=(PYTHON, "-S", "-B", "/prog/main.py"),
    artifacts=("main.py",),
    time_factor=3.0,
    time_extra_ms=500,
    memory_extra_mb=16,
    address_space_extra_mb=96,
    oom_markers=(b"MemoryError",),
    requires=(PYTHON,),
)
JAVA17 = Language(
    key="java17",
    name="Java 17 (OpenJDK)",
    source_name="Main.java",
    compile_argv=(
        f"{JAVA_HOME}/bin/javac",
        "-J-Xmx512m",
        *(f"-J{flag}" for flag in _JVM_FLAGS),
        "-proc:none",
        "-encoding",
        "UTF-8",
        "-d",
        ".",
        "Main.java",
    ),
    run_argv=(f"{JAVA_HOME}/bin/java", "-Xmx{mem_mb}m", "-Xss64m", *_JVM_FLAGS, "-cp", "/prog", "Main"),
    artifacts=("*.class",),
    time_factor=2.0,
    time_extra_ms=500,
    memory_extra_mb=160,
    address_space_limit=False,
    nproc=64,
    compile_address_space_mb=None,
    compile_cpu_ms=20_000,
    oom_markers=(b"java.lang.OutOfMemoryError",),
    requires=(f"{JAVA_HOME}/bin/javac", f"{JAVA_HOME}/bin/java"),
)
JAVASCRIPT = Language(
    key="javascript",
    name="JavaScript (Node.js)",
    source_name="main.js",
    compile_argv=(NODE, "--check", "main.js"),
    run_argv=(NODE, "--max-old-space-size={mem_mb}", "/prog/main.js"),
    artifacts=("main.js",),
    time_factor=2.0,
    time_extra_ms=500,
    memory_extra_mb=64,
    address_space_limit=False,
    nproc=32,
    compile_address_space_mb=None,
    oom_markers=(b"JavaScript heap out of memory", b"Reached heap limit"),
    requires=(NODE,),
)

LANGUAGES: dict[str, Language] = {lang.key: lang for lang in (C, CPP17, PYTHON3, JAVA17, JAVASCRIPT)}

# The registry covers exactly the platform's language vocabulary (algoitny_shared.languages).
assert set(LANGUAGES) == set(LANGUAGE_IDS), "executions' language registry and the shared vocabulary differ"
