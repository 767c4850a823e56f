"""Daily quotas and idempotency keys at the gateway.

A metered request is charged before it is forwarded, in one ratelimit transaction that also
claims its ``Idempotency-Key`` (if it has one). Afterwards the request is *settled*: a
delivered answer (2xx/3xx) is stored on the claim, so a retry under the key is answered with
it and runs and costs nothing; an answer that delivered nothing (any 4xx or 5xx, or no answer)
is refunded and its key released. A key already claimed comes back as the record found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from algoitny_gateway.adapters.upstreams import Upstreams
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.idempotency import IdempotencyClaim, IdempotencyRecord, StoredResponse
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Charge:
    user_id: str
    action: str
    request_id: str
    day: str
    headers: dict[str, str]
    identity: Identity


@dataclass(frozen=True)
class Admission:
    """A metered request let through: its charge (None for callers who are not metered) and the
    Idempotency-Key it claimed (None without one); or the record of the key's earlier request."""

    identity: Identity
    attempt: str
    charge: Charge | None = None
    key: str | None = None
    earlier: IdempotencyRecord | None = None
    headers: dict[str, str] | None = None


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
        """Charge a request with no Idempotency-Key (``request_id`` charged at most once)."""
        admission = await self.admit(identity, action, request_id, None)
        return admission.charge

    async def admit(self, identity: Identity, action: str, attempt: str, claim: IdempotencyClaim | None) -> Admission:
        """Charge ``attempt`` (a fresh id) and claim the request's Idempotency-Key in one step."""
        if not identity.user_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, f"Sign in to use {action}s")
        if identity.is_admin and claim is None:
            return Admission(identity, attempt)  # admins are not metered
        payload: dict[str, Any] = {
            "user_id": identity.user_id,
            "action": action,
            "request_id": attempt,
            "plan_hint": identity.plan,
            "metered": not identity.is_admin,
        }
        if claim is not None:
            payload["idempotency"] = claim.model_dump()
        resp = await self._call(identity, "/quota/consume", payload)
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
        if resp.status_code == 409:
            raise AppError(ErrorCode.CONFLICT, body.get("detail", "Conflict"), headers={"Retry-After": "1"})
        if resp.status_code >= 400:
            # What ratelimit said is logged (the client gets a 503): a refused charge names its cause.
            log.error("ratelimit refused a quota call: %s %s", resp.status_code, resp.text[:300])
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The quota service refused the request")
        quota_headers = rate_limit_headers(int(body["limit"]), body.get("remaining"), _seconds_until(body["reset_at"]))
        if body.get("idempotent"):
            earlier = IdempotencyRecord.model_validate(body["idempotent"])
            return Admission(identity, attempt, earlier=earlier, headers=quota_headers)
        charge = None
        if not identity.is_admin:
            charge = Charge(identity.user_id, action, attempt, body["day"], quota_headers, identity)
        return Admission(identity, attempt, charge=charge, key=claim.key if claim else None, headers=quota_headers)

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

    async def undo(self, admission: Admission, reason: str) -> None:
        """The request delivered nothing: give its charge back and free its key."""
        if admission.charge is not None:
            try:
                await self.refund(admission.charge, reason)
            except AppError as exc:
                # The client still gets the service's answer; the charge stays (logged to be found).
                log.error("refund of charge %s failed: %s", admission.charge.request_id, exc.detail)
        await self._settle(admission, None)

    async def complete(self, admission: Admission, status: int, headers: dict[str, str], body: bytes) -> None:
        """The request delivered: keep its answer for retries under its key."""
        if admission.key is None:
            return
        stored = StoredResponse.of(status, headers, body)
        if not stored.storable():
            # Ran once; its answer is too large to keep. A retry gets this instead of a second run.
            stored = StoredResponse.of(
                409,
                {"content-type": "application/problem+json"},
                b'{"type":"https://errors.algoitny.dev/conflict","title":"Conflict","status":409,'
                b'"code":"CONFLICT","detail":"This request ran once; its answer was too large to keep for '
                b'replay. Use a new Idempotency-Key to run it again."}',
            )
        await self._settle(admission, stored)

    async def _settle(self, admission: Admission, response: StoredResponse | None) -> None:
        if admission.key is None:
            return
        assert admission.identity.user_id is not None
        body: dict[str, Any] = {
            "user_id": admission.identity.user_id,
            "key": admission.key,
            "request_id": admission.attempt,
        }
        if response is not None:
            body["response"] = response.model_dump()
        try:
            resp = await self._call(admission.identity, "/quota/settle", body)
            if resp.status_code >= 400:
                log.warning("settling an idempotency key failed: %s %s", resp.status_code, resp.text[:200])
        except AppError as exc:
            # The claim stays in flight; a retry is answered 409 until its lease runs out.
            log.warning("settling an idempotency key failed: %s", exc.detail)


def _seconds_until(iso: str) -> int:
    return max(0, int((datetime.fromisoformat(iso) - datetime.now(UTC)).total_seconds()))
