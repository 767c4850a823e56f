"""A local stand-in for the executions service's GET /executions/{id}: verifies the signed identity
like a service does and shows an execution to its owner only (403 to others, 404 when unknown)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from algoitny_shared.errors import AppError
from algoitny_shared.identity import IDENTITY_HEADER, IdentitySigner


class FakeExecutions:
    def __init__(self, secret: str) -> None:
        self.signer = IdentitySigner(secret)
        self.executions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.url = ""

    def add(self, doc: dict[str, Any]) -> None:
        self.executions[str(doc.get("execution_id") or doc["id"])] = doc

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
                if (doc.get("user_id") or doc.get("owner_id")) != identity.user_id and not identity.is_admin:
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
