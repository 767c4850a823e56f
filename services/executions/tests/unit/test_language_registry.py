"""The language registry (issue 21): new languages, compile/run commands, Java's class detection,
the toolchain keys (precompiled header per compiler and flags)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from algoitny_executions.adapters.sandbox.toolchains import Toolchains
from algoitny_executions.domain.judging import EffectiveLimits, Limits
from algoitny_executions.domain.languages import CPP17, GO, JAVA17, KOTLIN, LANGUAGES, PYPY, RUST, java_main_class
from algoitny_shared.languages import LANGUAGE_IDS, normalise


def test_new_languages_are_in_the_one_vocabulary_with_aliases() -> None:
    assert {"pypy3", "go", "rust", "kotlin"} <= set(LANGUAGE_IDS) == set(LANGUAGES)
    assert [normalise(a) for a in ("PyPy", "golang", "rs", "kt")] == ["pypy3", "go", "rust", "kotlin"]


def test_time_multipliers_and_compile_memory() -> None:
    limits = Limits(time_limit_ms=1000, memory_limit_mb=256)
    assert EffectiveLimits.of(limits, PYPY).cpu_ms == 2500
    assert EffectiveLimits.of(limits, KOTLIN).cpu_ms == 2500 and EffectiveLimits.of(limits, KOTLIN).heap_mb == 256
    assert EffectiveLimits.of(limits, RUST).cpu_ms == 1000
    assert EffectiveLimits.of(limits, GO).address_space_bytes == 0  # Go reserves arenas: cgroup + RSS bound it
    assert (GO.compile_memory_mb, RUST.compile_memory_mb, KOTLIN.compile_memory_mb) == (768, 1024, 1536)
    for lang in LANGUAGES.values():  # every command is absolute: no PATH lookup inside the box
        assert lang.compile_argv[0].startswith("/") and lang.run_argv[0].startswith("/"), lang.key


def test_compile_and_run_commands_fill_placeholders() -> None:
    code = "public class Solution { public static void main(String[] a) {} }"
    assert JAVA17.source_file(code) == "Solution.java"
    assert JAVA17.compile_command(code)[-1] == "Solution.java"
    run = JAVA17.run_command(code, 128)
    assert run[-1] == "Solution" and "-Xmx128m" in run
    assert KOTLIN.run_command("fun main() {}", 64)[-1] == "MainKt"
    assert "/opt/kotlin/kotlin-stdlib.jar" in " ".join(KOTLIN.run_command("fun main() {}", 64))
    assert "importcfg" in GO.compile_command("package main")[-1] and GO.compile_mounts == ("go",)
    assert CPP17.pch_flags and CPP17.compile_command("int main(){}")[1 : 1 + len(CPP17.pch_flags)] == CPP17.pch_flags
    assert RUST.source_file("fn main(){}") == "main.rs"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("public class Main { public static void main(String[] a) {} }", "Main"),
        ("import java.util.*;\npublic class aplusb {\n public static void main(String[] a) {} }", "aplusb"),
        ("public final strictfp class final_strictfp_class { }", "final_strictfp_class"),
        ("public strictfp abstract class X { }", "X"),
        ("public class нет { }", "нет"),  # Unicode identifiers, like DMOJ
        ("public class A$b { }", "A$b"),
        # only top level: the nested public class is not the file's name
        ("class Outer { public static class Pair {} public static void main(String[] a) {} }", "Outer"),
        # comments, strings, chars and text blocks do not count
        ("// public class Fake {}\n/* public class Fake2 {} */ public class Real {}", "Real"),
        ("class Q { String s = \"public class Fake {\"; char c = '{'; }\npublic class Real {}", "Real"),
        ('class Q { String t = """\n public class Fake {\n"""; }\npublic class Real {}', "Real"),
        ("public record Point(int x) { }", "Point"),
        # no public class: the top-level class that declares main (Codeforces-like), else Main
        ("class Sol { public static void main(String[] a) {} }", "Sol"),
        ("class Helper {}\nclass Sol { static public void main(String[] a) {} }", "Sol"),
        ("interface I {}", None),
    ],
)
def test_java_main_class(code: str, expected: str | None) -> None:
    assert java_main_class(code) == expected


@pytest.mark.parametrize(
    "name",
    ["../../etc/x", "a/b", "a.b", "a b", "a\x00b", "class", "x" * 101, "ж" * 101, "-rf", "$(id)", "a\nb"],
)
def test_hostile_java_class_names_fall_back_to_main(name: str) -> None:
    code = f"public class {name} {{ public static void main(String[] a) {{}} }}"
    main = JAVA17.main_name(code)
    assert main == "Main" or (main.replace("$", "_").isidentifier() and len(main) <= 100)
    assert JAVA17.source_file(code) == f"{main}.java" and not {"/", ".", "\x00", "\n", " "} & set(main)


def test_precompiled_header_key_changes_with_the_compiler(tmp_path: Path) -> None:
    """A fake g++ (a script): the header is rebuilt when the compiler binary changes, reused otherwise."""
    calls = tmp_path / "calls"
    fake = tmp_path / "g++"
    script = f"""#!/bin/sh
echo "$@" >> {calls}
case "$*" in
  *-print-prog-name=cc1plus*) echo cc1plus ;;
  *-dumpfullversion*) echo 99.1.0; echo x86_64-linux-gnu ;;
  *"-E -H"*) echo ". {tmp_path}/inc/bits/stdc++.h" >&2 ;;
  *c++-header*) for a in "$@"; do last=$a; done; echo pch > "$last" ;;
  *-fsyntax-only*) for a in "$@"; do case $prev in -I) dir=$a;; esac; prev=$a; done;
                   echo "! $dir/bits/stdc++.h.gch" >&2 ;;
esac
"""
    fake.write_text(script)
    fake.chmod(0o755)
    (tmp_path / "inc" / "bits").mkdir(parents=True)
    (tmp_path / "inc" / "bits" / "stdc++.h").write_text("#include <vector>\n")
    chains = Toolchains(tmp_path / "tc", gxx=str(fake))
    first = chains.pch(("-std=gnu++17", "-O2"))
    assert first is not None and (first.directory / "bits" / "stdc++.h.gch").read_text() == "pch\n"
    builds = calls.read_text().count("c++-header")
    assert chains.pch(("-std=gnu++17", "-O2")) == first  # same compiler: no rebuild, no g++ run
    assert calls.read_text().count("c++-header") == builds
    other_flags = chains.pch(("-std=gnu++20", "-O2"))
    assert other_flags is not None and other_flags.key != first.key
    fake.write_text(script + "# upgraded\n")  # the compiler changed (size and mtime)
    os.utime(fake, (1, 1))
    rebuilt = chains.pch(("-std=gnu++17", "-O2"))
    assert rebuilt is not None and rebuilt.key != first.key
    assert oct(rebuilt.directory.stat().st_mode)[-3:] == "755"
    # a second judge on the same cache directory reuses the built header
    assert Toolchains(tmp_path / "tc", gxx=str(fake)).pch(("-std=gnu++17", "-O2")) == rebuilt
    assert calls.read_text().count("c++-header") == builds + 2


def test_precompiled_header_failure_is_not_fatal(tmp_path: Path) -> None:
    chains = Toolchains(tmp_path / "tc", gxx="/nonexistent/g++")
    assert chains.pch(("-O2",)) is None
    chains.prepare(["cobol"])  # a toolchain that cannot be prepared is left out (logged), not a crash
    assert "cobol" not in chains.mounts and "cobol" in chains.errors
