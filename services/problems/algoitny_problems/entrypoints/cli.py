"""``algoitny-problems``: serve the API (with the outbox relay), or run the relay alone."""

from __future__ import annotations

import argparse
import asyncio

from algoitny_problems.bootstrap import Container, build
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-problems")
    parser.add_argument("command", choices=["serve", "relay"], nargs="?", default="serve")
    args = parser.parse_args(argv)
    settings = ProblemsSettings()
    configure_logging(settings.service_name, settings.log_level)
    container = build(settings)
    if args.command == "relay":
        asyncio.run(_relay_only(container))
        return
    from algoitny_problems.entrypoints.http import make_app

    serve(make_app(container), settings)


async def _relay_only(container: Container) -> None:
    await container.broker.start()
    try:
        await container.relay.run()
    finally:
        await container.broker.stop()


if __name__ == "__main__":
    main()
