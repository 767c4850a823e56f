"""``algoitny-hints``: serve the API with the outbox relay and the hints worker (HintRequested consumer)."""

from __future__ import annotations

from algoitny_hints.bootstrap import build
from algoitny_hints.entrypoints.http import make_app
from algoitny_hints.settings import HintsSettings
from algoitny_shared.kit.cli import service_cli

main = service_cli("algoitny-hints", HintsSettings, make_app, build=build)

if __name__ == "__main__":
    main()
