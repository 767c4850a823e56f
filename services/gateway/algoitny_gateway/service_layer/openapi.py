"""The gateway's OpenAPI document, composed from the services' own documents and the route table."""

from __future__ import annotations

import copy
from typing import Any

from algoitny_gateway.domain.routes import ROUTES, Route


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
        if route.admin_only:
            operation["security"] = [{"bearer": []}]
            operation.setdefault("description", "")
            operation["description"] += "\n\nRequires an admin bearer token."
        paths.setdefault(route.public_path, {})[route.method.lower()] = operation
        schemas.update(upstream.get("components", {}).get("schemas", {}))
    doc["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    return doc


def _operation_id(route: Route) -> str:
    return f"{route.method.lower()}_{route.public_path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
