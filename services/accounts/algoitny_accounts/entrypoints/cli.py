"""``algoitny-accounts``: serve the API, or create the demo admin from configuration (idempotent)."""

from __future__ import annotations

import argparse
import asyncio
import json

from algoitny_accounts.bootstrap import build
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-accounts")
    parser.add_argument("command", choices=["serve", "seed-admin"], nargs="?", default="serve")
    args = parser.parse_args(argv)
    settings = AccountsSettings()
    configure_logging(settings.service_name, settings.log_level)
    container = build(settings)
    if args.command == "seed-admin":
        if not settings.demo_admin_password.get_secret_value():
            print(json.dumps({"admin_email": None, "created": False}))
            return
        user, created = asyncio.run(
            container.accounts.sign_in.ensure_admin(
                settings.demo_admin_email, settings.demo_admin_password.get_secret_value()
            )
        )
        print(json.dumps({"admin_email": user.email, "created": created}))
        return
    from algoitny_accounts.entrypoints.http import make_app

    serve(make_app(container=container), settings)


if __name__ == "__main__":
    main()
