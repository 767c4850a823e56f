"""A private, single-node Kafka broker (KRaft) for the fault suite: its own ports and data
directory, started and stopped by this code only, so stopping it never touches the shared
broker other test runs use. Same jars and settings as deploy/local/infra.sh (Maven-fetched
into ``$ALGOITNY_LOCAL_DIR/kafka/lib``; ``make install`` puts them there)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("ALGOITNY_LOCAL_DIR", REPO / ".local"))
JAVA = str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if os.environ.get("JAVA_HOME") else "java"


def kafka_lib() -> Path:
    for candidate in (LOCAL_DIR / "kafka" / "lib", REPO / ".local" / "kafka" / "lib"):
        if any(candidate.glob("kafka_2.13-*.jar")):
            return candidate
    raise FileNotFoundError(f"no Kafka jars under {LOCAL_DIR}/kafka/lib (run: bash deploy/local/infra.sh install)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PrivateKafka:
    def __init__(self, heap: str = "-Xms256m -Xmx512m") -> None:
        self.port = free_port()
        self.controller_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="algoitny-kafka-"))
        self.data = self.dir / "data"
        self.props = self.dir / "server.properties"
        self.log = self.dir / "kafka.log"
        self.heap = heap.split()
        self.proc: subprocess.Popen[bytes] | None = None
        self.lib = kafka_lib()
        self.log4j = f"-Dlog4j2.configurationFile={REPO / 'deploy' / 'local' / 'kafka' / 'log4j2.properties'}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return [JAVA, self.log4j, "-cp", f"{self.lib}/*", *args]

    def _format(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"log.dirs={self.data}",
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "default.replication.factor=1",
                    "min.insync.replicas=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )
        if not (self.data / "meta.properties").exists():
            cluster = subprocess.run(
                self._java("kafka.tools.StorageTool", "random-uuid"), capture_output=True, text=True, check=True
            ).stdout.strip()
            subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(self.props), "--standalone"),
                capture_output=True,
                check=True,
            )

    def start(self, timeout_s: float = 90) -> None:
        if self.proc is None:
            self._format()
        offset = self.log.stat().st_size if self.log.exists() else 0
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                JAVA,
                *self.heap,
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                *self._java("kafka.Kafka", str(self.props))[1:],
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.dir,
        )
        log.close()
        self.wait_ready(timeout_s, offset)

    def _started(self, offset: int) -> bool:
        with open(self.log, "rb") as f:
            f.seek(offset)
            return b"Kafka Server started" in f.read()

    def wait_ready(self, timeout_s: float, offset: int = 0) -> None:
        deadline = time.monotonic() + timeout_s
        while not (port_open(self.port) and self._started(offset)):
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"private Kafka exited; see {self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"private Kafka not up after {timeout_s:.0f} s; see {self.log}")
            time.sleep(0.3)

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM (a clean broker stop), SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
