"""deploy/Dockerfile builds the two images deploy/k8s runs: services (non-root) and the judge.

Read, not built (no Docker engine in CI): the stages and their order, the user each image runs
as, and that the judge stage installs bubblewrap and the toolchain of every language of the
judge's registry at the paths the registry names.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.scripts import load_script

from algoitny_executions.domain.languages import LANGUAGES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
manifests = load_script("deploy/k8s/manifests.py")

# Which Debian package provides each toolchain path the registry names (bookworm). A new language
# (or a moved binary) fails below until it is mapped here and installed in the judge stage.
TOOLCHAIN_PACKAGES = {
    "/usr/bin/gcc": "gcc",
    "/usr/bin/g++": "g++",
    "/usr/bin/python3.11": "python3.11",
    "/usr/lib/jvm/java-17-openjdk-amd64/": "openjdk-17-jdk-headless",
    "/usr/bin/node": "nodejs",
    "/usr/bin/pypy3": "pypy3",
    "/usr/bin/rustc": "rustc",
    "/usr/bin/cc": "gcc",
}
# Binaries of Debian's essential packages (in every base image; Go runs through /usr/bin/env).
ESSENTIAL = {"/usr/bin/env"}


def stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (continuations joined, comments dropped), in file order."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out: dict[str, list[str]] = {}
    current = None
    for raw in joined.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        m = re.match(r"FROM \S+ AS (\S+)$", line, re.IGNORECASE)
        if m:
            current = m.group(1)
            out[current] = [line]
        elif current:
            out[current].append(line)
    return out


def arg_default(name: str) -> str:
    m = re.search(rf'^ARG {name}="([^"]*)"', DOCKERFILE.read_text(), re.MULTILINE)
    assert m, f"no ARG {name}"
    return m.group(1)


def test_stages_and_default_target() -> None:
    names = list(stages())
    assert {"web", "build", "judge-build", "judge", "runtime"} <= set(names)
    assert names[-1] == "runtime", "the default target (last stage) is the services' image"


def test_service_image_is_non_root_and_judge_runs_as_namespaced_root() -> None:
    s = stages()
    users = [i for i in s["runtime"] if i.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("root", "0")
    judge_users = [i for i in s["judge"] if i.startswith("USER ")]
    # Root inside the pod's user namespace only: deploy/k8s gives judge pods hostUsers: false.
    assert judge_users and judge_users[-1].split()[1].split(":")[0] in ("0", "root")
    for w in manifests.WORKLOADS:
        pod = manifests.deployment(w)["spec"]["template"]["spec"]
        image = pod["containers"][0]["image"]
        assert image == (manifests.JUDGE_IMAGE if w.judge else manifests.IMAGE), w.name
        if w.judge:
            assert pod["hostUsers"] is False, w.name


def test_judge_stage_installs_every_registry_toolchain_and_bubblewrap() -> None:
    s = stages()
    installs = " ".join(i for i in s["judge"] if i.startswith("RUN ") and "apt-get install" in i)
    packages = set(installs.replace("${JUDGE_TOOLCHAINS}", arg_default("JUDGE_TOOLCHAINS")).split())
    assert "bubblewrap" in packages
    for lang in LANGUAGES.values():
        binaries = {a for a in (lang.compile_argv[:1] + lang.run_argv[:1]) if a.startswith("/usr/")}
        binaries |= {r for r in lang.requires if r.startswith("/usr/")}
        binaries -= ESSENTIAL
        for binary in binaries:
            owner = next((pkg for path, pkg in TOOLCHAIN_PACKAGES.items() if binary.startswith(path)), None)
            assert owner, f"{lang.key}: which Debian package provides {binary}? (TOOLCHAIN_PACKAGES)"
            assert owner in packages, f"{lang.key}: judge stage does not install {owner} ({binary})"
    assert any(i.startswith("COPY --from=judge-build /opt/venv") for i in s["judge"])


def test_judge_build_uses_debians_python_and_installs_executions() -> None:
    s = stages()
    text = " ".join(s["judge-build"])
    assert "/usr/bin/python3.11 -m venv /opt/venv" in text
    assert re.search(r"pip install -r requirements\.lock", text)
    assert re.search(r"pip install --no-deps \./shared \./services/executions", text)
    assert s["judge-build"][0].split()[1] == s["judge"][0].split()[1], "judge and its venv on the same base"
