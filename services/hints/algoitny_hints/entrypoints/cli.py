"""``algoitny-hints``: serve the API with the outbox relay and the hints worker (HintRequested consumer)."""

from __future__ import annotations

import argparse

from algoitny_hints.settings import HintsSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-hints")
    parser.add_argument("command", choices=["serve"], nargs="?", default="serve")
    parser.parse_args(argv)
    settings = HintsSettings()
    configure_logging(settings.service_name, settings.log_level)
    from algoitny_hints.bootstrap import build
    from algoitny_hints.entrypoints.http import make_app

    serve(make_app(build(settings)), settings)


if __name__ == "__main__":
    main()
