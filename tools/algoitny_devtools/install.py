"""``install``: the jars each part needs (Maven, only when missing or when the pom changed), the
OpenSearch launcher (javac, only when Launcher.java changed) and PostgreSQL 15 (Debian package)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from hashlib import sha256
from pathlib import Path

from algoitny_devtools.registry import HERE, PG_BIN, PG_VERSION, Config


class InstallFailed(RuntimeError):
    pass


def _stamp(*files: Path) -> str:
    return sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def _log(msg: str) -> None:
    print(f"[install] {msg}", flush=True)


def maven_jars(cfg: Config, name: str, marker_glob: str) -> bool:
    """``deploy/local/<name>/pom.xml``'s dependencies into ``<lib_dir>/<name>/lib``; True if fetched now."""
    pom, home = HERE / name / "pom.xml", cfg.lib_dir / name
    lib, stamp_file = home / "lib", home / ".stamp"
    stamp = _stamp(pom)
    if stamp_file.exists() and stamp_file.read_text().strip() == stamp and glob.glob(str(lib / marker_glob)):
        return False
    if shutil.which("mvn") is None:
        raise InstallFailed("mvn not found (apt-get install maven)")
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    cfg.log_dir.mkdir(parents=True, exist_ok=True)
    log_file = cfg.log_dir / f"install-{name}.log"
    _log(f"fetching {name} jars with Maven (first run takes a while) ...")
    with open(log_file, "wb") as out:
        code = subprocess.run(
            ["mvn", "-B", "-q", "-f", str(pom), f"-Dlib.dir={lib}", "dependency:copy-dependencies"],
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode
    if code != 0:
        raise InstallFailed(f"mvn failed for {name} (log: {log_file})")
    stamp_file.write_text(stamp + "\n")
    return True


def opensearch_launcher(cfg: Config) -> None:
    classes, src = cfg.lib_dir / "opensearch" / "classes", HERE / "opensearch" / "Launcher.java"
    stamp = _stamp(src)
    if (classes / ".stamp").exists() and (classes / ".stamp").read_text().strip() == stamp:
        return
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir(parents=True)
    lib = cfg.lib_dir / "opensearch" / "lib"
    if subprocess.run([cfg.javac, "-nowarn", "-cp", f"{lib}/*", "-d", str(classes), str(src)]).returncode != 0:
        raise InstallFailed("javac failed for opensearch/Launcher.java")
    (classes / ".stamp").write_text(stamp + "\n")


def check_java(cfg: Config) -> None:
    try:
        out = subprocess.run([cfg.java, "-XshowSettings:properties", "-version"], capture_output=True, text=True).stderr
    except FileNotFoundError:
        raise InstallFailed("java not found (set JAVA_HOME or install a JDK 17)") from None
    version = next((ln.split("=")[1].strip() for ln in out.splitlines() if "java.specification.version" in ln), "0")
    if int(version.split(".")[0]) < 17:
        raise InstallFailed(f"Java 17+ required, found {version}")


def install_infra(cfg: Config) -> None:
    check_java(cfg)
    maven_jars(cfg, "kafka", "kafka_2.13-*.jar")
    if maven_jars(cfg, "opensearch", "opensearch-2*.jar"):  # new jars: compile the launcher against them
        shutil.rmtree(cfg.lib_dir / "opensearch" / "classes", ignore_errors=True)
    opensearch_launcher(cfg)
    # The Kotlin compiler's jars for the judge's Kotlin language (executions reads <local>/kotlin/lib).
    maven_jars(cfg, "kotlin", "kotlin-compiler-embeddable-*.jar")


def install_postgres() -> None:
    if (PG_BIN / "postgres").exists():
        return
    if os.getuid() != 0:
        raise InstallFailed(f"postgresql-{PG_VERSION} is missing: apt-get install postgresql-{PG_VERSION} (as root)")
    _log(f"installing postgresql-{PG_VERSION} (Debian package) ...")
    had_cluster = Path(f"/etc/postgresql/{PG_VERSION}/main").exists()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", f"postgresql-{PG_VERSION}", f"postgresql-client-{PG_VERSION}"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    # The package creates (and may start) a default cluster on 5432: we run our own data dir.
    if not had_cluster and Path(f"/etc/postgresql/{PG_VERSION}/main").exists():
        subprocess.run(["pg_dropcluster", "--stop", str(PG_VERSION), "main"], check=False)


def install_legacy(cfg: Config) -> None:
    install_postgres()
    maven_jars(cfg, "connect", "connect-runtime-*.jar")


INSTALLERS = {"infra": install_infra, "legacy": install_legacy}
