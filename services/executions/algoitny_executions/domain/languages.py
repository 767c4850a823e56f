"""The language registry: the one place that says how each language is compiled and run.

Paths are the real toolchain binaries (inside the sandbox /usr is the host's /usr,
read-only). Python is the system interpreter itself, never a version-manager shim,
which would cost ~30 ms per start. Commands use these placeholders, filled per run:
``{mem_mb}`` (the problem's memory limit, for the JVM's -Xmx / V8's heap size) and
``{main}`` (the program's main name: ``main``, or for Java the public class the
contestant declared, see :func:`java_main_class`).

Sources are written as ``/box/<source_name>``; the compile step runs in /box and must
leave the files matching ``artifacts`` there; runs see them read-only under /prog.

Toolchains that do not live under /usr (or need preparing once, e.g. Go's standard
library compiled for the judge, the Kotlin compiler's jars, a C++ precompiled header)
are *mounts*: the judge prepares each named one on the host at start
(``adapters/sandbox/toolchains.py``) and binds it read-only at ``/opt/<name>``.
"""

from __future__ import annotations

import re
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
    compile_memory_mb: int = 1536
    """Box-wide memory cap (cgroup) of the compile step."""
    compile_mounts: tuple[str, ...] = ()
    """Prepared toolchain directories the compile step needs, bound read-only at /opt/<name>."""
    run_mounts: tuple[str, ...] = ()
    """Prepared toolchain directories the runs need (e.g. the Kotlin runtime)."""
    pch_flags: tuple[str, ...] = ()
    """C++: the flags ``bits/stdc++.h`` is precompiled with (exactly the compile's own flags);
    when the judge has that header ready, the compile gets ``-I /opt/pch-<key>`` in front."""
    main_from_source: bool = False
    """Java: ``{main}`` is the public class the source declares (any valid name), else Main."""

    def cpu_limit_ms(self, time_limit_ms: int) -> int:
        return int(time_limit_ms * self.time_factor) + self.time_extra_ms

    def main_name(self, code: str) -> str:
        if self.main_from_source:
            return java_main_class(code) or "Main"
        return "main"

    def source_file(self, code: str) -> str:
        return self.source_name.replace("{main}", self.main_name(code))

    def compile_command(self, code: str) -> tuple[str, ...]:
        main = self.main_name(code)
        return tuple(a.replace("{main}", main) for a in self.compile_argv)

    def run_command(self, code: str, heap_mb: int) -> tuple[str, ...]:
        main = self.main_name(code)
        return tuple(a.replace("{main}", main).replace("{mem_mb}", str(heap_mb)) for a in self.run_argv)


# -- Java: the public class may have any name ------------------------------------------------
# Like DMOJ (and Codeforces, AtCoder): the source is saved under the name of its public
# top-level class, which is what javac requires. Comments, string/char literals and text
# blocks are blanked first, so a "public class X" inside them does not count; only a
# declaration at brace depth 0 counts (not a nested ``public static class``). The name becomes
# a file name and a `java` argument, so it must be a Java identifier (Unicode letters allowed,
# like DMOJ; never a path: no '/', '.', NUL or space) of at most 100 characters and 200 UTF-8
# bytes; anything else falls back to Main, and javac then explains the mismatch as a CE.

_JAVA_BLANK = re.compile(
    r'"""(?:\\.|[^\\])*?"""'  # text block
    r"|/\*.*?(?:\*/|\Z)"  # block comment (an unterminated one runs to the end)
    r"|//[^\n]*"  # line comment
    r'|"(?:\\.|[^"\\\n])*"'  # string literal
    r"|'(?:\\.|[^'\\\n])*'",  # char literal
    re.DOTALL,
)
_JAVA_TYPE = re.compile(
    r"\b((?:(?:public|final|abstract|strictfp|sealed|non-sealed|static)\s+)*)"
    r"(class|interface|enum|record)\s+([^\s{<(]+)"
)
_JAVA_MAIN = re.compile(r"\bvoid\s+main\s*\(\s*(?:final\s+)?String\b")
JAVA_KEYWORDS = frozenset(
    [
        "abstract",
        "assert",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "float",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "int",
        "interface",
        "long",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "void",
        "volatile",
        "while",
        "true",
        "false",
        "null",
        "var",
        "record",
        "yield",
        "sealed",
        "permits",
    ]
)


def _blank_java(code: str) -> str:
    return _JAVA_BLANK.sub(lambda m: " " * len(m.group(0)), code)


def _top_level_types(code: str) -> list[tuple[str, bool, str]]:
    """(name, is public, body text) of each top-level type declaration, in source order."""
    text = _blank_java(code)
    depth_at = []
    depth = 0
    for ch in text:
        depth_at.append(depth)
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
    found = []
    for match in _JAVA_TYPE.finditer(text):
        if depth_at[match.start()] != 0:
            continue
        body_start = text.find("{", match.end())
        if body_start < 0:
            continue
        end = body_start
        level = 0
        for end in range(body_start, len(text)):
            if text[end] == "{":
                level += 1
            elif text[end] == "}":
                level -= 1
                if level == 0:
                    break
        found.append((match.group(3), "public" in match.group(1).split(), text[body_start : end + 1]))
    return found


def _valid_java_name(name: str) -> bool:
    return (
        0 < len(name) <= 100
        and len(name.encode("utf-8", errors="replace")) <= 200
        and name.replace("$", "_").isidentifier()
        and name.isprintable()
        and name not in JAVA_KEYWORDS
    )


def java_main_class(code: str) -> str | None:
    """The class to save the source as and run: the public top-level type, else the top-level
    type that declares ``main``; None (meaning Main) when there is neither or the name is unusable."""
    types = _top_level_types(code)
    public = [name for name, is_public, _ in types if is_public]
    if public:
        return public[0] if _valid_java_name(public[0]) else None
    with_main = [name for name, _, body in types if _JAVA_MAIN.search(body)]
    if with_main and _valid_java_name(with_main[0]):
        return with_main[0]
    return None


GCC = "/usr/bin/gcc"
GXX = "/usr/bin/g++"
PYTHON = "/usr/bin/python3.11"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
NODE = "/usr/bin/node"
PYPY3 = "/usr/bin/pypy3"
RUSTC = "/usr/bin/rustc"
GO_TOOLS = "/opt/go/tools"
"""The Go toolchain's compile and link binaries, prepared with its standard library (see toolchains)."""
KOTLIN_LIB = "/opt/kotlin"

_JVM_FLAGS = (
    # The JVM's own warnings (e.g. a thread it could not start) go to stdout by default, into the
    # program's answer: a program that handles the failure would be judged WA for the JVM's words.
    "-Xlog:disable",
    "-Xlog:all=warning:stderr",
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
CPP17_FLAGS = ("-std=gnu++17", "-O2", "-pipe", "-DONLINE_JUDGE")
CPP17 = Language(
    key="cpp17",
    name="C++17 (g++ 12)",
    source_name="main.cpp",
    compile_argv=(GXX, *CPP17_FLAGS, "-o", "main", "main.cpp"),
    run_argv=("/prog/main",),
    artifacts=("main",),
    requires=(GXX,),
    oom_markers=(b"std::bad_alloc",),
    pch_flags=CPP17_FLAGS,
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
    source_name="{main}.java",
    compile_argv=(
        f"{JAVA_HOME}/bin/javac",
        "-J-Xmx512m",
        *(f"-J{flag}" for flag in _JVM_FLAGS),
        "-proc:none",
        "-encoding",
        "UTF-8",
        "-d",
        ".",
        "{main}.java",
    ),
    run_argv=(f"{JAVA_HOME}/bin/java", "-Xmx{mem_mb}m", "-Xss64m", *_JVM_FLAGS, "-cp", "/prog", "{main}"),
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
    main_from_source=True,
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

PYPY = Language(
    key="pypy3",
    name="PyPy 3 (Python 3.9)",
    source_name="main.py",
    compile_argv=(PYPY3, "-S", "-B", "-c", "import sys; compile(open('main.py','rb').read(), 'main.py', 'exec')"),
    run_argv=(PYPY3, "-S", "-B", "/prog/main.py"),
    artifacts=("main.py",),
    # PyPy's JIT is 3-10x CPython; warm-up and the bigger runtime: x2 + 0.5 s, +64 MB.
    time_factor=2.0,
    time_extra_ms=500,
    memory_extra_mb=64,
    address_space_extra_mb=512,
    oom_markers=(b"MemoryError",),
    requires=(PYPY3,),
)
GO = Language(
    key="go",
    name="Go (gc)",
    source_name="main.go",
    # The compiler and linker themselves (not `go build`: no module, cache or network step),
    # against the standard library the judge compiled once per Go version (importcfg).
    compile_argv=(
        "/bin/sh",
        "-c",
        f"{GO_TOOLS}/compile -p main -complete -trimpath=/box -importcfg /opt/go/importcfg -o main.o main.go"
        f" && {GO_TOOLS}/link -importcfg /opt/go/importcfg -buildmode=exe -s -o main main.o",
    ),
    # One OS thread for Go code: the runtime's scheduler never burns the other core on CPU time.
    run_argv=("/usr/bin/env", "GOMAXPROCS=1", "GOGC=100", "/prog/main"),
    artifacts=("main",),
    time_extra_ms=200,
    memory_extra_mb=16,
    # The Go runtime reserves address space in large arenas: the cgroup and peak RSS bound it.
    address_space_limit=False,
    nproc=64,
    compile_address_space_mb=None,
    compile_memory_mb=768,
    compile_mounts=("go",),
    requires=("/bin/sh",),
)
RUST = Language(
    key="rust",
    name="Rust 2021 (rustc)",
    source_name="main.rs",
    compile_argv=(RUSTC, "--edition=2021", "-O", "-C", "debuginfo=0", "--cfg", "online_judge", "-o", "main", "main.rs"),
    run_argv=("/prog/main",),
    artifacts=("main",),
    address_space_extra_mb=64,
    compile_address_space_mb=None,
    compile_memory_mb=1024,
    compile_cpu_ms=20_000,
    oom_markers=(b"memory allocation of",),
    requires=(RUSTC, "/usr/bin/cc"),
)
KOTLIN = Language(
    key="kotlin",
    name="Kotlin/JVM",
    source_name="main.kt",
    compile_argv=(
        f"{JAVA_HOME}/bin/java",
        "-Xmx768m",
        "-Xss16m",
        *_JVM_FLAGS,
        "-Djava.io.tmpdir=/box",
        "-cp",
        f"{KOTLIN_LIB}/*",
        "org.jetbrains.kotlin.cli.jvm.K2JVMCompiler",
        "-no-reflect",
        "-no-stdlib",
        "-cp",
        f"{KOTLIN_LIB}/kotlin-stdlib.jar",
        "-jvm-target",
        "17",
        "-d",
        ".",
        "main.kt",
    ),
    run_argv=(
        f"{JAVA_HOME}/bin/java",
        "-Xmx{mem_mb}m",
        "-Xss64m",
        *_JVM_FLAGS,
        "-cp",
        f"/prog:{KOTLIN_LIB}/kotlin-stdlib.jar",
        "MainKt",
    ),
    artifacts=("*.class",),
    time_factor=2.0,
    time_extra_ms=500,
    memory_extra_mb=176,
    address_space_limit=False,
    nproc=64,
    compile_address_space_mb=None,
    compile_cpu_ms=30_000,
    compile_memory_mb=1536,
    compile_mounts=("kotlin",),
    run_mounts=("kotlin",),
    oom_markers=(b"java.lang.OutOfMemoryError",),
    requires=(f"{JAVA_HOME}/bin/java",),
)

LANGUAGES: dict[str, Language] = {
    lang.key: lang for lang in (C, CPP17, PYTHON3, JAVA17, JAVASCRIPT, PYPY, GO, RUST, KOTLIN)
}

# The registry covers exactly the platform's language vocabulary (algoitny_shared.languages).
assert set(LANGUAGES) == set(LANGUAGE_IDS), "executions' language registry and the shared vocabulary differ"
