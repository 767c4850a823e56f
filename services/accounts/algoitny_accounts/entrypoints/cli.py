"""``algoitny-accounts``: serve the API, or create the demo admin from configuration (idempotent)."""

from __future__ import annotations

import argparse
from typing import Any

from algoitny_accounts.bootstrap import build
from algoitny_accounts.entrypoints.http import make_app
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.kit.cli import Command, service_cli


async def seed_admin(settings: AccountsSettings, _: argparse.Namespace) -> dict[str, Any]:
    password = settings.demo_admin_password.get_secret_value()
    if not password:
        return {"admin_email": None, "created": False}
    user, created = await build(settings).accounts.sign_in.ensure_admin(settings.demo_admin_email, password)
    return {"admin_email": user.email, "created": created}


COMMANDS: dict[str, Command[AccountsSettings]] = {
    "seed-admin": Command(seed_admin, "create the demo admin from configuration")
}


main = service_cli("algoitny-accounts", AccountsSettings, make_app, build=build, commands=COMMANDS)

if __name__ == "__main__":
    main()
