"""``algoitny-ratelimit``: serve the API (with its outbox relay and event consumer), or seed the default plans."""

from __future__ import annotations

import argparse
import asyncio
import json

from algoitny_ratelimit.bootstrap import build
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-ratelimit")
    parser.add_argument("command", choices=["serve", "seed"], nargs="?", default="serve")
    args = parser.parse_args(argv)
    settings = RatelimitSettings()
    configure_logging(settings.service_name, settings.log_level)
    container = build(settings)
    if args.command == "seed":
        created = asyncio.run(container.plan_admin.seed(DEFAULT_PLANS))
        print(json.dumps({"plans_created": created}))
        return
    from algoitny_ratelimit.entrypoints.http import make_app

    serve(make_app(container), settings)


if __name__ == "__main__":
    main()
