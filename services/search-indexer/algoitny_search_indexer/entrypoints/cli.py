"""``algoitny-search-indexer``: serve search and consume problem events."""

from __future__ import annotations

import argparse

from algoitny_search_indexer.bootstrap import build
from algoitny_search_indexer.settings import SearchIndexerSettings
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="algoitny-search-indexer")
    parser.add_argument("command", choices=["serve"], nargs="?", default="serve")
    parser.parse_args(argv)
    settings = SearchIndexerSettings()
    configure_logging(settings.service_name, settings.log_level)
    from algoitny_search_indexer.entrypoints.http import make_app

    serve(make_app(build(settings)), settings)


if __name__ == "__main__":
    main()
