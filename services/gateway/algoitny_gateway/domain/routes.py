"""The gateway's route table: which public path goes to which service (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Upstream = Literal["problems", "search", "accounts", "ratelimit"]


@dataclass(frozen=True)
class Route:
    method: str
    public_path: str
    upstream: Upstream
    upstream_path: str
    admin_only: bool = False


API = "/api/v1"

ROUTES: tuple[Route, ...] = (
    # /problems/search must precede /problems/{platform}/{problem_id} only for readers; the
    # segment counts differ, so the two never clash.
    Route("GET", f"{API}/problems/search", "search", "/search"),
    Route("GET", f"{API}/problems", "problems", "/problems"),
    Route("POST", f"{API}/problems", "problems", "/problems", admin_only=True),
    Route("GET", f"{API}/problems/platforms", "problems", "/problems/platforms"),
    Route("GET", f"{API}/problems/stats", "problems", "/problems/stats", admin_only=True),
    # Before /problems/{platform}/{problem_id}: "id" is a reserved platform name.
    Route("GET", f"{API}/problems/id/{{numeric_id}}", "problems", "/problems/id/{numeric_id}"),
    Route("GET", f"{API}/problems/{{platform}}/{{problem_id}}", "problems", "/problems/{platform}/{problem_id}"),
    Route(
        "PATCH",
        f"{API}/problems/{{platform}}/{{problem_id}}",
        "problems",
        "/problems/{platform}/{problem_id}",
        admin_only=True,
    ),
    Route(
        "DELETE",
        f"{API}/problems/{{platform}}/{{problem_id}}",
        "problems",
        "/problems/{platform}/{problem_id}",
        admin_only=True,
    ),
    Route(
        "POST",
        f"{API}/problems/{{platform}}/{{problem_id}}/complete",
        "problems",
        "/problems/{platform}/{problem_id}/complete",
        admin_only=True,
    ),
    Route(
        "GET",
        f"{API}/problems/{{platform}}/{{problem_id}}/testcases",
        "problems",
        "/problems/{platform}/{problem_id}/testcases",
    ),
    Route(
        "PUT",
        f"{API}/problems/{{platform}}/{{problem_id}}/testcases",
        "problems",
        "/problems/{platform}/{problem_id}/testcases",
        admin_only=True,
    ),
    Route(
        "POST",
        f"{API}/problems/{{platform}}/{{problem_id}}/testcases",
        "problems",
        "/problems/{platform}/{problem_id}/testcases",
        admin_only=True,
    ),
    Route("GET", f"{API}/plans", "ratelimit", "/plans"),
    Route("POST", f"{API}/auth/token", "accounts", "/auth/token"),
)
