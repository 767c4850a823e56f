"""``algoitny-gateway``: serve the public HTTP API."""

from __future__ import annotations

from algoitny_gateway.entrypoints.http import make_app
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared.kit.cli import service_cli

main = service_cli("algoitny-gateway", GatewaySettings, make_app)

if __name__ == "__main__":
    main()
