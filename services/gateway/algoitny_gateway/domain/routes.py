"""The gateway's route table: which public path goes to which service, and who may call it (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Upstream = Literal["problems", "search", "accounts", "ratelimit", "executions", "hints", "stats"]
# public: anyone; user: any signed-in caller; registrar: admins and users whose plan may register
# problems (the token's may_register flag); admin: admins.
Access = Literal["public", "user", "registrar", "admin"]
Metered = Literal["execution", "hint"]
RateClass = Literal["general", "execution", "signin", "suggest"]


@dataclass(frozen=True)
class Route:
    method: str
    public_path: str
    upstream: Upstream
    upstream_path: str
    access: Access = "public"
    metered: Metered | None = None  # charged against the caller's daily quota before forwarding
    rate_class: RateClass = "general"  # raw per-client request rate bucket
    stream: bool = False  # the answer is streamed through as it comes (server-sent events)
    # Template of the quota charge key over the path parameters, e.g. "problem-hint:{platform}:{problem_id}":
    # the gateway appends the UTC day, so repeating the request the same day is charged once. Without
    # it each attempt is charged under a fresh id of the gateway's; a retry under the same
    # Idempotency-Key is answered from the first attempt's stored answer (algoitny_shared.idempotency).
    charge_key: str | None = None
    # Charge only when the service answered 2xx (reads that may find nothing, e.g. hints not generated
    # yet): no charge and refund for a miss, which with a per-day key would make the day's reads free.
    charge_on_success: bool = False

    @property
    def admin_only(self) -> bool:
        return self.access == "admin"


API = "/api/v1"

ROUTES: tuple[Route, ...] = (
    # /problems/search must precede /problems/{platform}/{problem_id} only for readers; the
    # segment counts differ, so the two never clash.
    Route("GET", f"{API}/problems/search", "search", "/search"),
    # A request per keystroke of a search box: its own, wider bucket, apart from the general one.
    Route("GET", f"{API}/problems/suggest", "search", "/suggest", rate_class="suggest"),
    Route("GET", f"{API}/problems", "problems", "/problems"),
    Route("POST", f"{API}/problems", "problems", "/problems", access="registrar"),
    Route("GET", f"{API}/problems/platforms", "problems", "/problems/platforms"),
    Route("GET", f"{API}/problems/stats", "problems", "/problems/stats", access="registrar"),
    # Before /problems/{platform}/{problem_id}: "id" is a reserved platform name.
    Route("GET", f"{API}/problems/id/{{numeric_id}}", "problems", "/problems/id/{numeric_id}"),
    # Old ids of the legacy application ("legacy" is a reserved platform name too).
    Route("GET", f"{API}/problems/legacy/{{legacy_id}}", "problems", "/problems/legacy/{legacy_id}"),
    Route("GET", f"{API}/problems/{{platform}}/{{problem_id}}", "problems", "/problems/{platform}/{problem_id}"),
    Route(
        "PATCH",
        f"{API}/problems/{{platform}}/{{problem_id}}",
        "problems",
        "/problems/{platform}/{problem_id}",
        access="registrar",
    ),
    Route(
        "DELETE",
        f"{API}/problems/{{platform}}/{{problem_id}}",
        "problems",
        "/problems/{platform}/{problem_id}",
        access="registrar",
    ),
    Route(
        "POST",
        f"{API}/problems/{{platform}}/{{problem_id}}/complete",
        "problems",
        "/problems/{platform}/{problem_id}/complete",
        access="registrar",
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
        access="registrar",
    ),
    Route(
        "POST",
        f"{API}/problems/{{platform}}/{{problem_id}}/testcases",
        "problems",
        "/problems/{platform}/{problem_id}/testcases",
        access="registrar",
    ),
    # Hints. Path params match one segment, so /problems/{platform}/{problem_id}/hints never clashes
    # with /problems/{platform}/{problem_id} or its /testcases and /complete siblings.
    Route(
        "GET",
        f"{API}/problems/{{platform}}/{{problem_id}}/hints",
        "hints",
        "/problems/{platform}/{problem_id}/hints",
        access="user",
        metered="hint",
        charge_key="problem-hint:{platform}:{problem_id}",
        charge_on_success=True,
    ),
    Route(
        "POST",
        f"{API}/problems/{{platform}}/{{problem_id}}/hints",
        "hints",
        "/problems/{platform}/{problem_id}/hints",
        access="admin",
    ),
    Route(
        "POST",
        f"{API}/executions/{{execution_id}}/hints",
        "hints",
        "/executions/{execution_id}/hints",
        access="user",
        metered="hint",
    ),
    Route(
        "GET", f"{API}/executions/{{execution_id}}/hints", "hints", "/executions/{execution_id}/hints", access="user"
    ),
    Route("GET", f"{API}/plans", "ratelimit", "/plans"),
    Route("GET", f"{API}/me/usage", "ratelimit", "/me/usage", access="user"),
    Route("GET", f"{API}/admin/plans", "ratelimit", "/admin/plans", access="admin"),
    Route("POST", f"{API}/admin/plans", "ratelimit", "/admin/plans", access="admin"),
    Route("PATCH", f"{API}/admin/plans/{{plan_id}}", "ratelimit", "/admin/plans/{plan_id}", access="admin"),
    Route("DELETE", f"{API}/admin/plans/{{plan_id}}", "ratelimit", "/admin/plans/{plan_id}", access="admin"),
    Route(
        "POST",
        f"{API}/executions",
        "executions",
        "/executions",
        access="user",
        metered="execution",
        rate_class="execution",
    ),
    Route("GET", f"{API}/executions/legacy/{{legacy_id}}", "executions", "/executions/legacy/{legacy_id}"),
    # Visibility of executions (owner, public, admin) is the executions service's rule.
    Route("GET", f"{API}/executions/{{execution_id}}", "executions", "/executions/{execution_id}"),
    Route("PATCH", f"{API}/executions/{{execution_id}}", "executions", "/executions/{execution_id}", access="user"),
    Route(
        "GET",
        f"{API}/executions/{{execution_id}}/events",
        "executions",
        "/executions/{execution_id}/events",
        stream=True,
    ),
    Route("POST", f"{API}/runs", "executions", "/runs", access="user", metered="execution", rate_class="execution"),
    Route("GET", f"{API}/history", "executions", "/history"),
    # Four segments after /problems: never confused with /problems/{platform}/{problem_id}.
    Route(
        "GET",
        f"{API}/problems/{{platform}}/{{problem_id}}/history",
        "executions",
        "/problems/{platform}/{problem_id}/history",
        access="admin",
    ),
    # Problem import from a problem page's address (problems service; registrars).
    Route("POST", f"{API}/problem-imports", "problems", "/problem-imports", access="registrar"),
    Route(
        "GET", f"{API}/problem-imports/{{import_id}}", "problems", "/problem-imports/{import_id}", access="registrar"
    ),
    # Test-case generation jobs (problems service; registrars). Four segments after /problems, like
    # /testcases; /generation-jobs/{job_id} and its /events, /cancel, /retry never clash.
    Route(
        "POST",
        f"{API}/problems/{{platform}}/{{problem_id}}/generation-jobs",
        "problems",
        "/problems/{platform}/{problem_id}/generation-jobs",
        access="registrar",
    ),
    Route("GET", f"{API}/generation-jobs", "problems", "/generation-jobs", access="registrar"),
    Route("GET", f"{API}/generation-jobs/{{job_id}}", "problems", "/generation-jobs/{job_id}", access="registrar"),
    Route(
        "GET",
        f"{API}/generation-jobs/{{job_id}}/events",
        "problems",
        "/generation-jobs/{job_id}/events",
        access="registrar",
        stream=True,
    ),
    Route(
        "POST",
        f"{API}/generation-jobs/{{job_id}}/cancel",
        "problems",
        "/generation-jobs/{job_id}/cancel",
        access="registrar",
    ),
    Route(
        "POST",
        f"{API}/generation-jobs/{{job_id}}/retry",
        "problems",
        "/generation-jobs/{job_id}/retry",
        access="registrar",
    ),
    Route("POST", f"{API}/auth/register", "accounts", "/auth/register", rate_class="signin"),
    Route("POST", f"{API}/auth/login", "accounts", "/auth/login", rate_class="signin"),
    Route("POST", f"{API}/auth/google", "accounts", "/auth/google", rate_class="signin"),
    Route("POST", f"{API}/auth/refresh", "accounts", "/auth/refresh", rate_class="signin"),
    Route("POST", f"{API}/auth/logout", "accounts", "/auth/logout"),
    Route("GET", f"{API}/me", "accounts", "/me", access="user"),
    Route("PATCH", f"{API}/me", "accounts", "/me", access="user"),
    Route("POST", f"{API}/me/consents", "accounts", "/me/consents", access="user"),
    Route("GET", f"{API}/admin/users", "accounts", "/admin/users", access="admin"),
    Route("PATCH", f"{API}/admin/users/{{user_id}}", "accounts", "/admin/users/{user_id}", access="admin"),
    # Statistics (precomputed from events; may lag a little behind).
    Route("GET", f"{API}/me/stats", "stats", "/me/stats", access="user"),
    Route("GET", f"{API}/users/{{user_id}}/stats", "stats", "/users/{user_id}/stats"),
    Route(
        "GET", f"{API}/problems/{{platform}}/{{problem_id}}/stats", "stats", "/problems/{platform}/{problem_id}/stats"
    ),
    Route("GET", f"{API}/admin/stats", "stats", "/admin/stats", access="admin"),
)
