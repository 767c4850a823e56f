"""Legacy-import test helpers: the importer processes (real entrypoints) and Debezium-shaped records."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from algoitny_shared.identity import Identity, IdentitySigner
from support.kafka_tools import produce
from support.polling import eventually

REPO = Path(__file__).resolve().parents[2]
SECRET = "local-internal-secret-change-me-32bytes"
SOURCE = "a, b = map(int, input().split())\nprint(a + b)\n"
BIG = "9 " * 70_000  # 140 KB: over the inline limit, stored gzipped in S3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Importers:
    env: dict[str, str]
    prefix: str
    urls: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    lsn: int = 1000

    def next_lsn(self) -> int:
        self.lsn += 10
        return self.lsn

    def get(self, service: str, path: str, **params: Any) -> Any:
        signer = IdentitySigner(SECRET)
        header = signer.sign(Identity(user_id="ops", role="admin"), "GET", path)
        resp = httpx.get(self.urls[service] + path, params=params, headers={"x-algoitny-identity": header}, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def post(self, service: str, path: str) -> Any:
        header = IdentitySigner(SECRET).sign(Identity(user_id="ops", role="admin"), "POST", path)
        resp = httpx.post(self.urls[service] + path, headers={"x-algoitny-identity": header}, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()


@contextmanager
def running_importers(
    stack_env: dict[str, str], logs: Path, services: tuple[str, ...] = ("problems", "executions", "hints")
) -> Iterator[Importers]:
    """The importer processes of ``services`` (python -m algoitny_<service>.entrypoints.legacy_import)."""
    namespace = stack_env["ALGOITNY_NAMESPACE"]
    prefix = f"{namespace}.legacy"
    env = {
        **os.environ,
        **stack_env,
        "ALGOITNY_ENVIRONMENT": "test",
        "ALGOITNY_LEGACY_TOPIC_PREFIX": prefix,
        "ALGOITNY_LEGACY_ORPHAN_GRACE_S": "3",
        "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.3",
        "ALGOITNY_LOG_LEVEL": "WARNING",
    }
    found = Importers(env=env, prefix=prefix, urls={})
    for service in services:
        port = _free_port()
        found.urls[service] = f"http://127.0.0.1:{port}"
        log = open(logs / f"{service}.log", "wb")  # noqa: SIM115 (closed with the process)
        found.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", f"algoitny_{service}.entrypoints.legacy_import"],
                env={**env, "ALGOITNY_LEGACY_IMPORT_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        )

    def ready() -> bool:
        try:
            return all(httpx.get(u + "/readyz", timeout=2).status_code == 200 for u in found.urls.values())
        except httpx.HTTPError:
            return False

    try:
        eventually(ready, timeout_s=90, interval_s=0.5)
        yield found
    finally:
        for proc in found.procs:
            proc.terminate()
        for proc in found.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def record(table: str, row: dict[str, Any], *, lsn: int, op: str = "c", deleted: bool = False) -> tuple[bytes, bytes]:
    value = {
        **row,
        "__op": op,
        "__lsn": lsn,
        "__source_ts_ms": 1_700_000_000_000 + lsn,
        "__deleted": str(deleted).lower(),
    }
    return json.dumps({"id": row["id"]}).encode(), json.dumps(value).encode()


async def send(
    imp: Importers, table: str, row: dict[str, Any], *, op: str = "c", deleted: bool = False, lsn: int | None = None
) -> int:
    at = lsn or imp.next_lsn()
    key, value = record(table, row, lsn=at, op=op, deleted=deleted)
    await produce(imp.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"], f"{imp.prefix}.public.{table}", value, key)
    return at


def problem_row(legacy_id: int, problem_id: str, title: str, **over: Any) -> dict[str, Any]:
    row = {
        "id": legacy_id,
        "platform": "Baekjoon",
        "problem_id": problem_id,
        "title": title,
        "problem_url": f"https://www.acmicpc.net/problem/{problem_id}",
        "tags": json.dumps(["math", "구현"]),
        "solution_code": base64.b64encode(SOURCE.encode()).decode(),
        "language": "python",
        "constraints": "1 <= a, b <= 10",
        "is_completed": True,
        "is_deleted": False,
        "deleted_at": None,
        "deleted_reason": None,
        "metadata": json.dumps({"execution_count": 0}),
        "created_at": "2024-03-01T10:00:00.123456Z",
    }
    row.update(over)
    return row


def case_row(legacy_id: int, problem: int, text: str, created: str) -> dict[str, Any]:
    return {"id": legacy_id, "problem_id": problem, "input": text, "output": text[:10], "created_at": created}


def run_row(legacy_id: int, created: str, **over: Any) -> dict[str, Any]:
    row = {
        "id": legacy_id,
        "user_id": 7,
        "user_identifier": "kim@example.com",
        "problem_id": 501,
        "platform": "Baekjoon",
        "problem_number": "91000",
        "problem_title": "두 수의 합",
        "language": "python",
        "code": f"print({legacy_id})",
        "result_summary": json.dumps("Passed"),
        "passed_count": 2,
        "failed_count": 0,
        "total_count": 2,
        "is_code_public": False,
        "test_results": json.dumps([{"test_case_id": 1, "output": "3", "passed": True, "error": None, "status": "ok"}]),
        "hints": None,
        "metadata": "{}",
        "created_at": created,
    }
    row.update(over)
    return row
