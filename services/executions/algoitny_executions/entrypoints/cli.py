"""``algoitny-executions``: serve the API, with the judge worker in-process unless
ALGOITNY_WORKER_ENABLED=false (more workers: start more processes; they share one consumer group)."""

from __future__ import annotations

from algoitny_executions.bootstrap import build
from algoitny_executions.entrypoints.http import make_app
from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.kit.cli import service_cli

main = service_cli("algoitny-executions", ExecutionsSettings, make_app, build=build)

if __name__ == "__main__":
    main()
