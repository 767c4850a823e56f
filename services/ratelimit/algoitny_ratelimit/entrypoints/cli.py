"""``algoitny-ratelimit``: serve the API (with its outbox relay and event consumer), or seed the default plans."""

from __future__ import annotations

import argparse

from algoitny_ratelimit.bootstrap import build
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS
from algoitny_ratelimit.entrypoints.http import make_app
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.kit.cli import Command, service_cli


async def seed(settings: RatelimitSettings, _: argparse.Namespace) -> dict[str, int]:
    return {"plans_created": await build(settings).plan_admin.seed(DEFAULT_PLANS)}


COMMANDS: dict[str, Command[RatelimitSettings]] = {"seed": Command(seed, "create the default plans (idempotent)")}


main = service_cli("algoitny-ratelimit", RatelimitSettings, make_app, build=build, commands=COMMANDS)

if __name__ == "__main__":
    main()
