"""Write the gateway's composed OpenAPI document without starting anything.

Each service's app is built (no lifespan runs, so nothing connects) and asked for its own
document; the gateway composes them exactly as it does at run time. `web/openapi.json` is
the result, and `web/src/api/schema.d.ts` is generated from it (`npm run gen:types`).

    python web/scripts/dump_openapi.py            # rewrite web/openapi.json
    python web/scripts/dump_openapi.py --check    # exit 1 when web/openapi.json is stale
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "openapi.json"
# Gateway upstream name -> the service module whose app answers it.
UPSTREAM_MODULES = {
    "problems": "algoitny_problems",
    "search": "algoitny_search_indexer",
    "accounts": "algoitny_accounts",
    "ratelimit": "algoitny_ratelimit",
    "executions": "algoitny_executions",
    "hints": "algoitny_hints",
    "stats": "algoitny_stats",
}


def composed() -> dict[str, Any]:
    # Building an app constructs clients lazily; none of them connects before its first call.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("ALGOITNY_ENVIRONMENT", "local")  # development defaults: only documents are built
    from algoitny_gateway.entrypoints.http import make_app
    from algoitny_gateway.service_layer.openapi import compose

    docs: dict[str, dict[str, Any]] = {}
    for upstream, module in UPSTREAM_MODULES.items():
        http = importlib.import_module(f"{module}.entrypoints.http")
        docs[upstream] = http.make_app().openapi()
    return compose(make_app().openapi(), docs)


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when web/openapi.json is not current")
    args = parser.parse_args()
    text = render(composed())
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run `make web-types`")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
