"""``algoitny-executions``: serve the API, with the judge worker in-process unless
ALGOITNY_WORKER_ENABLED=false (more workers: start more processes; they share one consumer group)."""

from __future__ import annotations

import argparse

from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-executions")
    parser.add_argument("command", choices=["serve"], nargs="?", default="serve")
    parser.parse_args(argv)
    settings = ExecutionsSettings()
    configure_logging(settings.service_name, settings.log_level)
    from algoitny_executions.bootstrap import build
    from algoitny_executions.entrypoints.http import make_app

    serve(make_app(build(settings)), settings)


if __name__ == "__main__":
    main()
