"""``algoitny-hints``: serve the service's HTTP API."""

from __future__ import annotations

from algoitny_hints.settings import HintsSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main() -> None:
    settings = HintsSettings()
    configure_logging(settings.service_name, settings.log_level)
    from algoitny_hints.entrypoints.http import make_app

    serve(make_app(settings), settings)


if __name__ == "__main__":
    main()
