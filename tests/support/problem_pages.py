"""A local web server playing Codeforces, Baekjoon and AtCoder for the problem-import tests.

It serves the pages under services/problems/tests/pages by the shape of the path (any
contest or problem number gets that platform's page), so the problems service, told by
``ALGOITNY_IMPORT_ORIGIN_OVERRIDES`` to fetch those hosts from here, imports them like the
real sites' pages. Baekjoon's problem 4040404 answers 404.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGES = Path(__file__).resolve().parents[2] / "services" / "problems" / "tests" / "pages"
ROUTES = (
    (re.compile(r"^/(?:problemset/problem|contest)/\d+/(?:problem/)?[A-Z]"), "codeforces_4A.html"),
    (re.compile(r"^/problem/\d+$"), "baekjoon_1000.html"),
    (re.compile(r"^/contests/[\w-]+/tasks/\w+$"), "atcoder_abc086_a.html"),
)
HOSTS = ("codeforces.com", "acmicpc.net", "atcoder.jp")


@contextmanager
def serve_problem_pages() -> Iterator[str]:
    """Yields the value for ALGOITNY_IMPORT_ORIGIN_OVERRIDES (every host -> this server)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = next((page for pattern, page in ROUTES if pattern.match(self.path)), None)
            if self.path.endswith("/4040404"):
                name = None
            if name is None:
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            body = (PAGES / name).read_bytes()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield json.dumps(dict.fromkeys(HOSTS, origin))
    finally:
        server.shutdown()
        server.server_close()
