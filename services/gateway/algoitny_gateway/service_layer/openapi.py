"""The gateway's OpenAPI document, composed from the services' own documents and the route table."""

from __future__ import annotations

import copy
from typing import Any

from algoitny_gateway.domain.routes import ROUTES, Route

ACCESS_NOTES = {
    "user": "Requires a signed-in user's bearer token.",
    "registrar": "Requires a bearer token of an admin or of a user whose plan may register problems.",
    "admin": "Requires an admin bearer token.",
}


def compose(base: dict[str, Any], upstream_docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    paths: dict[str, Any] = doc.setdefault("paths", {})
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    for route in ROUTES:
        upstream = upstream_docs.get(route.upstream)
        if not upstream:
            continue
        operation = upstream.get("paths", {}).get(route.upstream_path, {}).get(route.method.lower())
        if operation is None:
            continue
        operation = copy.deepcopy(operation)
        operation["operationId"] = _operation_id(route)
        if route.access != "public":
            operation["security"] = [{"bearer": []}]
            operation.setdefault("description", "")
            operation["description"] += f"\n\n{ACCESS_NOTES[route.access]}"
        paths.setdefault(route.public_path, {})[route.method.lower()] = operation
        schemas.update(upstream.get("components", {}).get("schemas", {}))
    doc["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    return doc


def _operation_id(route: Route) -> str:
    return f"{route.method.lower()}_{route.public_path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
