"""``algoitny-stats``: serve the service's HTTP API."""

from __future__ import annotations

from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve
from algoitny_stats.settings import StatsSettings


def main() -> None:
    settings = StatsSettings()
    configure_logging(settings.service_name, settings.log_level)
    from algoitny_stats.entrypoints.http import make_app

    serve(make_app(settings), settings)


if __name__ == "__main__":
    main()
