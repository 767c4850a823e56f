"""The dev stack registry (tools/algoitny_devtools) through deploy/local/infra.sh, on free ports and a
state directory of its own (the jars of the usual local dir): `up` starts Kafka and moto and records
them, `stop`/`down` stop only what it started, a part that already answers is left alone, and the
clean-start rule holds: after a restart neither Kafka nor moto remembers what was written before."""

from __future__ import annotations

import asyncio
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from algoitny_devtools.registry import Config, free_port, port_open

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "ALGOITNY_LOCAL_DIR": str(tmp_path / "local"),
        "ALGOITNY_LIB_DIR": str(Config.from_env().lib_dir),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "MOTO_PORT": str(free_port()),
        "OPENSEARCH_PORT": str(free_port()),
        "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
        "INFRA_TIMEOUT": "120",
    }
    yield env
    subprocess.run(["bash", "deploy/local/infra.sh", "down"], env=env, cwd=REPO, check=False)


def infra(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "deploy/local/infra.sh", *args], env=env, cwd=REPO, capture_output=True, text=True)


def moto(env: dict[str, str]) -> object:
    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{env['MOTO_PORT']}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


async def topics(bootstrap: str, create: str | None = None) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if create:
            await admin.create_topics([NewTopic(create, num_partitions=1, replication_factor=1)])
        return {t for t in await admin.list_topics() if not t.startswith("__")}
    finally:
        await admin.close()


def test_up_restart_starts_every_part_clean_and_down_stops_only_its_own(stack_env: dict[str, str]) -> None:
    env = stack_env
    bootstrap = f"127.0.0.1:{env['KAFKA_PORT']}"
    up = infra(env, "up", "kafka", "moto")
    assert up.returncode == 0, up.stderr
    assert set(infra(env, "started").stdout.split()) == {"kafka", "moto"}
    status = infra(env, "status", "kafka", "moto")
    assert status.returncode == 0 and status.stdout.count("started by this stack") == 2, status.stdout

    db = moto(env)
    db.create_table(  # type: ignore[attr-defined]
        TableName="remembered",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert "remembered" in asyncio.run(topics(bootstrap, create="remembered"))

    stop = infra(env, "stop", "kafka", "moto")
    assert stop.returncode == 0, stop.stderr
    assert not port_open(int(env["KAFKA_PORT"])) and not port_open(int(env["MOTO_PORT"]))

    again = infra(env, "up", "kafka", "moto")
    assert again.returncode == 0, again.stderr
    # One rule for every part: a start is a clean start, so no part remembers what another forgot.
    assert moto(env).list_tables()["TableNames"] == []  # type: ignore[attr-defined]
    assert "remembered" not in asyncio.run(topics(bootstrap))

    down = infra(env, "down")
    assert down.returncode == 0, down.stderr
    assert not port_open(int(env["KAFKA_PORT"])) and not port_open(int(env["MOTO_PORT"]))
    assert infra(env, "started").stdout.strip() == ""
    assert list((Path(env["ALGOITNY_LOCAL_DIR"]) / "run").glob("*.json")) == []  # no records left behind


class _MotoLike(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_part_answering_already_is_left_alone_by_up_and_down(stack_env: dict[str, str]) -> None:
    env = stack_env
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(env["MOTO_PORT"])), _MotoLike)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        up = infra(env, "up", "moto")
        assert up.returncode == 0, up.stderr
        assert "left alone" in up.stderr
        assert infra(env, "started").stdout.strip() == ""
        assert "not started by this stack" in infra(env, "status", "moto").stdout
        assert infra(env, "down").returncode == 0
        assert port_open(int(env["MOTO_PORT"]))  # still ours to stop, not the stack's
    finally:
        server.shutdown()
        server.server_close()
