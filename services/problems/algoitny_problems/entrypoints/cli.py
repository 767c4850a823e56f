"""``algoitny-problems``: serve the API (with the outbox relay, the executions consumer and GC),
run the relay alone, run one garbage-collection pass, or run the generation process (the same as
``python -m algoitny_problems.generation``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from algoitny_problems.bootstrap import Container, build
from algoitny_problems.entrypoints.http import make_app
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.kit.cli import Command, service_cli
from algoitny_shared.runtime import serve


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


def _generation(settings: ProblemsSettings) -> None:
    from algoitny_problems.generation.bootstrap import build as build_generation
    from algoitny_problems.generation.entrypoints.process import make_app as generation_app

    serve(generation_app(build_generation(settings)), settings)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ahead-s",
        type=float,
        default=0.0,
        help="gc: act as if this many seconds had passed (collect before the grace period ends)",
    )


COMMANDS: dict[str, Command[ProblemsSettings]] = {
    "relay": Command(lambda settings, _: _relay_only(build(settings)), "run the outbox relay alone"),
    "gc": Command(
        lambda settings, args: _gc(build(settings.model_copy(update={"consumers_enabled": False})), args.ahead_s),
        "run one garbage-collection pass",
    ),
    "generation": Command(lambda settings, _: _generation(settings), "run the test-case generation process"),
}

main = service_cli("algoitny-problems", ProblemsSettings, make_app, build=build, commands=COMMANDS, arguments=arguments)

if __name__ == "__main__":
    main()
