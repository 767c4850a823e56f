"""Daily quotas at the gateway: charge before forwarding a metered request, refund when the
operation failed through no fault of the user (the service erred or was unreachable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algoitny_gateway.adapters.upstreams import Upstreams
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner


@dataclass(frozen=True)
class Charge:
    user_id: str
    action: str
    request_id: str
    day: str
    headers: dict[str, str]
    identity: Identity


def rate_limit_headers(limit: int, remaining: int | None, reset_s: int) -> dict[str, str]:
    if limit < 0 or remaining is None:
        return {}
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset_s)}


class QuotaGate:
    def __init__(self, upstreams: Upstreams, signer: IdentitySigner) -> None:
        self._upstreams = upstreams
        self._signer = signer

    async def _call(self, identity: Identity, path: str, body: dict[str, Any]) -> Any:
        """Quota calls carry the caller's signed identity: ratelimit charges only that user."""
        headers = {IDENTITY_HEADER: self._signer.sign(identity, "POST", path)}
        return await self._upstreams.call_json("ratelimit", "POST", path, body, headers)

    async def charge(self, identity: Identity, action: str, request_id: str) -> Charge | None:
        if identity.is_admin:
            return None  # admins are not metered
        if not identity.user_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, f"Sign in to use {action}s")
        resp = await self._call(
            identity,
            "/quota/consume",
            {"user_id": identity.user_id, "action": action, "request_id": request_id, "plan_hint": identity.plan},
        )
        body: dict[str, Any] = resp.json()
        if resp.status_code == 429:
            retry = int(body.get("retry_after", 60))
            headers = {"Retry-After": str(retry), **rate_limit_headers(int(body.get("limit", 0)), 0, retry)}
            raise AppError(
                ErrorCode.RATE_LIMITED,
                body.get("detail", "Daily quota used up"),
                headers=headers,
                limit=body.get("limit"),
                remaining=0,
                reset_at=body.get("reset_at"),
                retry_after=retry,
            )
        if resp.status_code >= 400:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The quota service refused the request")
        reset_s = _seconds_until(body["reset_at"])
        return Charge(
            identity.user_id,
            action,
            request_id,
            body["day"],
            rate_limit_headers(int(body["limit"]), body.get("remaining"), reset_s),
            identity,
        )

    async def refund(self, charge: Charge, reason: str) -> None:
        await self._call(
            charge.identity,
            "/quota/refund",
            {
                "user_id": charge.user_id,
                "action": charge.action,
                "request_id": charge.request_id,
                "day": charge.day,
                "reason": reason[:200],
            },
        )


def _seconds_until(iso: str) -> int:
    from datetime import UTC, datetime

    return max(0, int((datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds()))
