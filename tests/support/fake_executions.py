"""A local stand-in for the executions service's GET /executions/{id}: verifies the signed identity
like a service does and shows an execution to its owner only (403 to others, 404 when unknown).
It serves only documents of the published model (algoitny_shared.execution_views.ExecutionView),
so the tests and the real service cannot drift apart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from algoitny_shared.errors import AppError
from algoitny_shared.execution_views import ExecutionView
from algoitny_shared.identity import IDENTITY_HEADER, IdentitySigner


def execution_doc(
    execution_id: str,
    user_id: str,
    verdict: str | None = "WA",
    *,
    tests: list[dict[str, Any]] | None = None,
    status: str = "completed",
    **extra: Any,
) -> dict[str, Any]:
    """An execution as GET /executions/{id} answers its owner (validated against the model).
    ``tests`` entries need ``index`` and ``verdict``; times and memory default to 0."""
    doc: dict[str, Any] = {
        "execution_id": execution_id,
        "user_id": user_id,
        "platform": "cf",
        "problem_id": "1A",
        "problem_title": "A",
        "language": "python3",
        "public": False,
        "status": status,
        "verdict": verdict if status == "completed" else None,
        "created_at": "2026-01-02T03:04:05+00:00",
        "code": "print(int(input())+1)\n",
        "code_visible": True,
        "code_bytes": 22,
        "tests": [{"time_ms": 0, "memory_kb": 0, **t} for t in (tests or [])],
        **extra,
    }
    return ExecutionView.model_validate(doc).model_dump(mode="json")


class FakeExecutions:
    def __init__(self, secret: str) -> None:
        self.signer = IdentitySigner(secret)
        self.executions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.url = ""

    def add(self, doc: dict[str, Any]) -> None:
        view = ExecutionView.model_validate(doc)
        self.executions[view.execution_id] = view.model_dump(mode="json")

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                assertion = self.headers.get(IDENTITY_HEADER)
                try:
                    identity = fake.signer.verify(assertion or "", "GET", self.path)
                except AppError:
                    return self._send(401, {"detail": "bad identity"})
                fake.requests.append((self.path, identity.user_id))
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[0] != "executions":
                    return self._send(404, {"detail": "no route"})
                doc = fake.executions.get(parts[1])
                if doc is None:
                    return self._send(404, {"detail": "no such execution"})
                if doc["user_id"] != identity.user_id and not identity.is_admin:
                    return self._send(403, {"detail": "not yours"})
                return self._send(200, doc)

        return Handler


@contextmanager
def serve_executions(fake: FakeExecutions) -> Iterator[FakeExecutions]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
