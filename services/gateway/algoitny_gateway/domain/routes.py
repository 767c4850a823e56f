"""The gateway's route table: which public path goes to which service (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Upstream = Literal["problems", "search", "accounts", "ratelimit", "executions"]
Metered = Literal["execution", "hint"]
RateClass = Literal["general", "execution", "signin"]


@dataclass(frozen=True)
class Route:
    method: str
    public_path: str
    upstream: Upstream
    upstream_path: str
    admin_only: bool = False
    metered: Metered | None = None  # charged against the caller's daily quota before forwarding
    rate_class: RateClass = "general"  # raw per-client request rate bucket


API = "/api/v1"

ROUTES: tuple[Route, ...] = (
    # /problems/search must precede /problems/{platform}/{problem_id} only for readers; the
    # segment counts differ, so the two never clash.
    Route("GET", f"{API}/problems/search", "search", "/search"),
    Route("POST", f"{API}/problems", "problems", "/problems", admin_only=True),
    Route("GET", f"{API}/problems/{{platform}}/{{problem_id}}", "problems", "/problems/{platform}/{problem_id}"),
    Route("GET", f"{API}/plans", "ratelimit", "/plans"),
    Route("GET", f"{API}/me/usage", "ratelimit", "/me/usage"),
    Route("GET", f"{API}/admin/plans", "ratelimit", "/admin/plans", admin_only=True),
    Route("POST", f"{API}/admin/plans", "ratelimit", "/admin/plans", admin_only=True),
    Route("PATCH", f"{API}/admin/plans/{{plan_id}}", "ratelimit", "/admin/plans/{plan_id}", admin_only=True),
    Route("DELETE", f"{API}/admin/plans/{{plan_id}}", "ratelimit", "/admin/plans/{plan_id}", admin_only=True),
    Route("POST", f"{API}/executions", "executions", "/executions", metered="execution", rate_class="execution"),
    Route("POST", f"{API}/auth/token", "accounts", "/auth/token", rate_class="signin"),
)
