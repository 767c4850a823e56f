"""``algoitny-problems``: serve the API (with the outbox relay, the executions consumer and GC),
run the relay alone, run one garbage-collection pass, or run the generation process (the same as
``python -m algoitny_problems.generation``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta

from algoitny_problems.bootstrap import Container, build
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-problems")
    parser.add_argument("command", choices=["serve", "relay", "gc", "generation"], nargs="?", default="serve")
    parser.add_argument(
        "--ahead-s",
        type=float,
        default=0.0,
        help="gc: act as if this many seconds had passed (collect before the grace period ends)",
    )
    args = parser.parse_args(argv)
    if args.command == "generation":
        from algoitny_problems.generation.entrypoints.process import main as generation

        generation()
        return
    settings = ProblemsSettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "gc":
        container = build(settings.model_copy(update={"consumers_enabled": False}))
        print(json.dumps(asyncio.run(_gc(container, args.ahead_s))))
        return
    container = build(settings)
    if args.command == "relay":
        asyncio.run(_relay_only(container))
        return
    from algoitny_problems.entrypoints.http import make_app

    serve(make_app(container), settings)


async def _gc(container: Container, ahead_s: float) -> dict[str, object]:
    total: dict[str, object] = {"visited": 0, "versions_removed": 0, "purges": 0, "items_deleted": 0}
    now = datetime.now(UTC) + timedelta(seconds=ahead_s)
    while True:
        report = await container.gc.run_once(now)
        for key in ("visited", "versions_removed", "purges", "items_deleted"):
            total[key] = int(total[key]) + int(getattr(report, key))  # type: ignore[call-overload]
        if report.visited == 0 or report.visited == report.skipped:
            return total


async def _relay_only(container: Container) -> None:
    await container.broker.start()
    try:
        await container.relay.run()
    finally:
        await container.broker.stop()


if __name__ == "__main__":
    main()
