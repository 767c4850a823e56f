"""A private, single-node Kafka broker (KRaft) for the fault suite: the dev stack registry's Kafka
spec (algoitny_devtools, the same command and settings as `make run`'s) on its own ports and state
directory, started and stopped by this code only, so stopping it never touches the shared broker
other test runs use. Jars from ``$ALGOITNY_LOCAL_DIR/kafka/lib`` (``make install`` puts them there).

It starts empty (the stack's clean-start rule); ``stop``/``start`` in between restart the same
broker on the same data, as a broker outage does."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from algoitny_devtools.launcher import PartExecutor, private_config
from algoitny_devtools.registry import KAFKA, free_port, port_open

__all__ = ["PrivateKafka", "free_port", "port_open"]


class PrivateKafka:
    def __init__(self, heap: str = "-Xms256m -Xmx512m") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="algoitny-kafka-"))
        self.cfg = private_config(
            self.dir, kafka_port=free_port(), kafka_controller_port=free_port(), kafka_heap=heap, timeout_s=90.0
        )
        self.port = self.cfg.kafka_port
        self.log = self.cfg.log_dir / "kafka.log"
        self.executor: PartExecutor | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.executor is None:
            KAFKA.fresh(self.cfg)  # once: later starts are restarts of the same broker
            self.executor = PartExecutor(KAFKA, self.cfg)
        self.executor.start()

    def stop(self) -> None:
        """SIGTERM (a clean broker stop), SIGKILL if it does not exit in time."""
        if self.executor is None or not self.executor.running():
            return
        with contextlib.suppress(Exception):  # a JVM stopped by SIGTERM exits with 143
            self.executor.stop()
        if self.executor.running():
            self.executor.kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
