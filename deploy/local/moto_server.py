"""moto's server with DynamoDB requests serialised.

moto applies a TransactWriteItems (and a conditional write) as several unlocked steps and
deep-copies the tables it touches for rollback; concurrent requests in its threaded server
can interleave those steps (a condition checked against a stale item) or crash the copy
("dictionary changed size during iteration", HTTP 500). DynamoDB itself makes each request
atomic. One lock around every DynamoDB request restores that guarantee locally; other
services (S3) keep running concurrently. moto is CPU-bound under the GIL, so little
throughput is lost.

    python deploy/local/moto_server.py -H 127.0.0.1 -p 5005
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

_dynamodb_lock = threading.Lock()


class SerialisedDynamoDB:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb_lock:
                # Materialise the body inside the lock: the work happens while it is produced.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5005)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialisedDynamoDB(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
