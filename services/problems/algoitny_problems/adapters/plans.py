"""A registrar's plan cap on registered problems, read from the ratelimit service (which owns plans).

``GET /admin/plans`` with this service's signed identity (inactive plans included: users stay on a
plan that is no longer sold). Caps are cached briefly; a plan that does not exist (deleted) caps
at 0. When ratelimit does not answer, creating a problem is refused with 503 rather than let
through uncounted.
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx
from pydantic import BaseModel, ValidationError

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner

SERVICE_IDENTITY = Identity(user_id="service:problems", role="admin", plan="admin")
PLANS_PATH = "/admin/plans"


class _PlanCap(BaseModel):
    plan_id: str
    max_registered_problems: int = 0


class _PlanList(BaseModel):
    items: list[_PlanCap]


class PlanCaps(Protocol):
    async def max_problems(self, plan_id: str | None) -> int: ...

    async def close(self) -> None: ...


class HttpPlanCaps:
    def __init__(self, client: httpx.AsyncClient, signer: IdentitySigner, ttl_s: float = 10.0) -> None:
        self._client = client
        self._signer = signer
        self._ttl = ttl_s
        self._cached: tuple[float, dict[str, int]] | None = None

    async def _caps(self, plan_id: str) -> dict[str, int]:
        # A plan missing from the cache may be new: read again (registrar creates are rare).
        if self._cached and self._cached[0] > time.monotonic() and plan_id in self._cached[1]:
            return self._cached[1]
        headers = {IDENTITY_HEADER: self._signer.sign(SERVICE_IDENTITY, "GET", PLANS_PATH)}
        try:
            resp = await self._client.get(PLANS_PATH, headers=headers)
        except httpx.HTTPError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The plans (ratelimit) service is unavailable") from exc
        if resp.status_code != 200:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, f"The plans (ratelimit) service answered {resp.status_code}")
        try:
            plans = _PlanList.model_validate_json(resp.content)
        except ValidationError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The plans (ratelimit) service answered nonsense") from exc
        caps = {p.plan_id: p.max_registered_problems for p in plans.items}
        self._cached = (time.monotonic() + self._ttl, caps)
        return caps

    async def max_problems(self, plan_id: str | None) -> int:
        if not plan_id:
            return 0
        return (await self._caps(plan_id)).get(plan_id, 0)

    async def close(self) -> None:
        await self._client.aclose()


class FixedPlanCaps:
    """Caps from a dict (unit tests)."""

    def __init__(self, caps: dict[str, int] | None = None) -> None:
        self.caps = caps or {}

    async def max_problems(self, plan_id: str | None) -> int:
        return self.caps.get(plan_id or "", 0)

    async def close(self) -> None:
        pass
