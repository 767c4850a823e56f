"""A local stand-in for the Gemini API: answers POST /v1/models/<model>:generateContent the way
Google does, from a script of behaviours, and records what it was sent (the real google-genai
client talks to it through http_options.base_url)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_HINTS = {
    "hints": [
        {"level": 1, "title": "Look at the sum", "text": "What is the largest value the sum can take?"},
        {"level": 2, "title": "Range", "text": "Compare it with the range of a 32-bit int."},
        {"level": 3, "title": "Fix", "text": "Store the sum in a 64-bit integer (long long)."},
    ]
}


def answer(text: str, prompt_tokens: int = 120, output_tokens: int = 60) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        },
        "modelVersion": "fake-gemini",
    }


def error(code: int, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"fake {status}", "status": status}}


@dataclass
class Step:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: answer(json.dumps(GOOD_HINTS)))
    delay_s: float = 0.0


OK = Step()
MALFORMED = Step(body=answer("this is not JSON {"))
RATE_LIMITED = Step(429, error(429, "RESOURCE_EXHAUSTED"))
SERVER_ERROR = Step(500, error(500, "INTERNAL"))


class FakeGemini:
    def __init__(self, script: list[Step] | None = None, default: Step = OK, delay_s: float = 0.0) -> None:
        self.script = list(script or [])
        self.default = default
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.url = ""

    @property
    def calls(self) -> int:
        return len(self.requests)

    def prompts(self) -> list[str]:
        out = []
        for r in self.requests:
            body = r["body"]
            out.append("\n".join(p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])))
        return out

    def _next(self) -> Step:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                arrived = time.perf_counter()
                record = {"path": self.path, "headers": dict(self.headers), "body": body, "seconds": 0.0}
                with fake._lock:
                    fake.requests.append(record)
                step = fake._next()
                if step.delay_s or fake.delay_s:
                    time.sleep(step.delay_s or fake.delay_s)
                if not self.path.endswith(":generateContent"):
                    step = Step(404, error(404, "NOT_FOUND"))
                data = json.dumps(step.body).encode()
                try:
                    self.send_response(step.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    record["seconds"] = time.perf_counter() - arrived
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


@contextmanager
def serve_gemini(fake: FakeGemini) -> Iterator[FakeGemini]:
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
