"""The gateway's quota use cases (QuotaGate) against a fake ratelimit (no services, no network):
who is charged, how ratelimit's refusals reach the client, the RateLimit headers, a key claimed
before, and settling: a delivered answer is stored on the key, an undelivered one refunded and its
key released, an answer too large to keep stored as a 409, a failing settle or refund swallowed."""

from __future__ import annotations

import base64
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from algoitny_gateway.service_layer.quota import QuotaGate
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.idempotency import IdempotencyClaim
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner

SIGNER = IdentitySigner("s" * 32)
ANN = Identity(user_id="ann", role="user", plan="free")
ADMIN = Identity(user_id="root", role="admin")
CLAIM = IdempotencyClaim(key="key-00000001", fingerprint="a" * 64)


class FakeRatelimit:
    """Answers /quota/* with the next queued (status, body); records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[tuple[int, dict[str, Any]] | Exception] = []

    async def call_json(
        self, upstream: str, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        assert upstream == "ratelimit" and method == "POST"
        who = SIGNER.verify(headers[IDENTITY_HEADER], "POST", path)
        assert who.user_id == body["user_id"]  # ratelimit charges only the signed caller
        self.calls.append((path, body))
        answer = self.answers.pop(0) if self.answers else (200, {"settled": True})
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer[0], json=answer[1])


def reset_in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def admitted(**extra: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"limit": 10, "remaining": 7, "reset_at": reset_in_an_hour(), "day": "2026-05-01", **extra}


@pytest.fixture
def ratelimit() -> FakeRatelimit:
    return FakeRatelimit()


@pytest.fixture
def gate(ratelimit: FakeRatelimit) -> QuotaGate:
    return QuotaGate(ratelimit, SIGNER)  # type: ignore[arg-type]


async def test_a_charge_carries_its_quota_headers_and_admins_are_not_metered(
    gate: QuotaGate, ratelimit: FakeRatelimit
) -> None:
    ratelimit.answers = [admitted()]
    charge = await gate.charge(ANN, "execution", "request-1")
    assert charge is not None and (charge.day, charge.request_id) == ("2026-05-01", "request-1")
    assert charge.headers["RateLimit-Limit"] == "10" and charge.headers["RateLimit-Remaining"] == "7"
    assert 3500 <= int(charge.headers["RateLimit-Reset"]) <= 3600
    [(path, body)] = ratelimit.calls
    assert path == "/quota/consume" and body["metered"] and body["plan_hint"] == "free"
    assert await gate.charge(ADMIN, "execution", "request-2") is None
    assert len(ratelimit.calls) == 1  # an admin without a key costs no call
    with pytest.raises(AppError) as anonymous:
        await gate.charge(Identity(), "hint", "request-3")
    assert anonymous.value.code is ErrorCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (
            429,
            {"limit": 5, "retry_after": 30, "reset_at": "2026-05-02T00:00:00+00:00", "detail": "used up"},
            ErrorCode.RATE_LIMITED,
        ),
        (409, {"detail": "in flight"}, ErrorCode.CONFLICT),
        (500, {"detail": "boom"}, ErrorCode.UPSTREAM_UNAVAILABLE),
    ],
)
async def test_ratelimit_refusals_reach_the_client(
    gate: QuotaGate, ratelimit: FakeRatelimit, status: int, body: dict[str, Any], code: ErrorCode
) -> None:
    ratelimit.answers = [(status, body)]
    with pytest.raises(AppError) as err:
        await gate.admit(ANN, "execution", "request-1", CLAIM)
    assert err.value.code is code
    if status == 429:
        assert err.value.headers == {
            "Retry-After": "30",
            "RateLimit-Limit": "5",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": "30",
        }
    if status == 409:
        assert err.value.headers == {"Retry-After": "1"}


async def test_a_key_claimed_before_comes_back_as_its_record(gate: QuotaGate, ratelimit: FakeRatelimit) -> None:
    record = {
        "key": CLAIM.key,
        "fingerprint": CLAIM.fingerprint,
        "state": "in_flight",
        "attempt": "a0",
        "claimed_at": 1,
    }
    ratelimit.answers = [admitted(idempotent=record)]
    admission = await gate.admit(ANN, "execution", "request-2", CLAIM)
    assert admission.charge is None and admission.earlier is not None and admission.earlier.attempt == "a0"
    assert ratelimit.calls[0][1]["idempotency"] == CLAIM.model_dump()


async def test_delivered_answers_are_stored_undelivered_ones_refunded_and_released(
    gate: QuotaGate, ratelimit: FakeRatelimit
) -> None:
    ratelimit.answers = [admitted()]
    admission = await gate.admit(ANN, "execution", "request-1", CLAIM)
    await gate.complete(admission, 202, {"content-type": "application/json"}, b'{"id": 1}')
    path, body = ratelimit.calls[-1]
    assert path == "/quota/settle" and body["request_id"] == "request-1" and body["response"]["status"] == 202

    ratelimit.answers = [admitted()]
    failed = await gate.admit(ANN, "execution", "request-2", CLAIM)
    await gate.undo(failed, "upstream 503")
    assert [p for p, _ in ratelimit.calls[-2:]] == ["/quota/refund", "/quota/settle"]
    assert ratelimit.calls[-2][1]["reason"] == "upstream 503" and "response" not in ratelimit.calls[-1][1]

    ratelimit.answers = [admitted()]
    huge = await gate.admit(ANN, "execution", "request-3", CLAIM)
    noise = random.Random(1).randbytes(300_000)  # incompressible: over the stored-answer limit
    await gate.complete(huge, 200, {"content-type": "application/octet-stream"}, noise)
    stored = ratelimit.calls[-1][1]["response"]
    assert stored["status"] == 409
    replay = json.loads(gzip.decompress(base64.b64decode(stored["body_gz_b64"])))
    assert replay["code"] == "CONFLICT"

    # Neither a failing refund nor a failing settle turns the client's answer into an error.
    ratelimit.answers = [admitted(), AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "down"), (500, {})]
    broken = await gate.admit(ANN, "execution", "request-4", CLAIM)
    await gate.undo(broken, "upstream 502")
    calls = len(ratelimit.calls)
    await gate.complete(await gate.admit(ADMIN, "execution", "request-5", None), 200, {}, b"")
    assert len(ratelimit.calls) == calls  # nothing claimed: nothing to settle
