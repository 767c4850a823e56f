"""Where the real Kafka, OpenSearch and DynamoDB/S3 endpoints are for this test run.

With a Docker engine, testcontainers starts them; without one (as on our machines)
the tests use the local stack that ``make test`` started (deploy/local/infra.sh, on the ports of
the dev stack's registry, algoitny_devtools).
"""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    opensearch_url: str
    aws_endpoint_url: str
    source: str

    def env(self) -> dict[str, str]:
        return {
            "ALGOITNY_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "ALGOITNY_OPENSEARCH_URL": self.opensearch_url,
            "ALGOITNY_AWS_ENDPOINT_URL": self.aws_endpoint_url,
        }


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _tcp_open(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:
            return resp.status < 500
    except Exception:
        return False


def local_stack() -> Endpoints:
    from algoitny_devtools.registry import Config

    ports = Config.from_env()  # the dev stack's ports (KAFKA_PORT, OPENSEARCH_PORT, MOTO_PORT)
    endpoints = Endpoints(
        kafka_bootstrap=os.environ.get("ALGOITNY_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{ports.kafka_port}"),
        opensearch_url=os.environ.get("ALGOITNY_OPENSEARCH_URL", f"http://127.0.0.1:{ports.opensearch_port}"),
        aws_endpoint_url=os.environ.get("ALGOITNY_AWS_ENDPOINT_URL", f"http://127.0.0.1:{ports.moto_port}"),
        source="local stack",
    )
    down = [
        name
        for name, ok in (
            ("kafka", _tcp_open(endpoints.kafka_bootstrap.split(",")[0])),
            ("opensearch", _http_ok(endpoints.opensearch_url)),
            ("moto", _http_ok(endpoints.aws_endpoint_url + "/moto-api/")),
        )
        if not ok
    ]
    if down:
        raise RuntimeError(
            f"no Docker engine and the local stack is not running ({', '.join(down)} down): "
            "run the tests with `make test`, or start it with `make infra-up`"
        )
    return endpoints


@contextmanager
def containers() -> Iterator[Endpoints]:
    """Official images through testcontainers (only where a Docker engine answers)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    opensearch = (
        DockerContainer("opensearchproject/opensearch:2.19.3")
        .with_env("discovery.type", "single-node")
        .with_env("DISABLE_SECURITY_PLUGIN", "true")
        .with_env("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m")
        .with_exposed_ports(9200)
    )
    moto = DockerContainer("motoserver/moto:5.1.22").with_exposed_ports(5000)
    with kafka, opensearch, moto:
        wait_for_logs(opensearch, "started", timeout=180)
        yield Endpoints(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            opensearch_url=f"http://{opensearch.get_container_host_ip()}:{opensearch.get_exposed_port(9200)}",
            aws_endpoint_url=f"http://{moto.get_container_host_ip()}:{moto.get_exposed_port(5000)}",
            source="testcontainers",
        )
