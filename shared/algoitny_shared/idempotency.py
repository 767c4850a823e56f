"""Idempotency keys (the IETF ``Idempotency-Key`` header draft), written once for every route.

A client that retries a request under the same ``Idempotency-Key`` gets the first request's
answer back (same status, same body) and nothing is done or charged again:

- the request is identified by a fingerprint (method, route, query and body, JSON compared by
  value), so the same key with another request is refused with a 422;
- the first request *claims* the key (a conditional put: a concurrent duplicate loses and is
  answered 409 while the first is in flight);
- its answer is stored on the claim when it completes, and replayed from there;
- an attempt that delivered nothing (refused or failed) *releases* its claim, so a retry under
  the same key is a new attempt (and is charged again, as it runs again).

A claim whose holder died in flight (no answer stored) may be taken over after its lease.
Records live for ``RETENTION_S`` (24 h) in the table of the service that stores them; the
DynamoDB items are built here (plain data, no I/O) so that the claim can commit in the same
transaction as the owner's state change (ratelimit claims in its check-and-consume transaction).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from algoitny_shared.errors import AppError, ErrorCode

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,128}$"
FINGERPRINT_PATTERN = r"^[0-9a-f]{64}$"
_KEY = re.compile(KEY_PATTERN)
RETENTION_S = 24 * 3600
LEASE_S = 120  # an in-flight claim older than this (holder gone) may be taken over
MAX_STORED_BODY_BYTES = 300_000  # compressed; DynamoDB items hold 400 KB
STORED_HEADERS = ("content-type", "location", "etag", "cache-control")

State = Literal["in_flight", "completed"]


def parse_key(value: str | None) -> str | None:
    """The request's Idempotency-Key, None without one; a malformed key is a 400."""
    if value is None or value == "":
        return None
    if not _KEY.fullmatch(value):
        raise AppError(ErrorCode.BAD_REQUEST, "Idempotency-Key must be 8-128 characters of [A-Za-z0-9_.:-]")
    return value


def fingerprint(method: str, route: str, query: Iterable[tuple[str, str]], body: bytes) -> str:
    """What identifies a request under a key: JSON bodies compare by value (key order and
    white space do not matter), other bodies byte for byte."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        canonical = b"raw:" + body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), route.encode(), json.dumps(sorted(query)).encode(), canonical):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


class IdempotencyClaim(BaseModel):
    """Sent with the operation that claims a key: which key, and what request it stands for."""

    key: str = Field(pattern=KEY_PATTERN)
    fingerprint: str = Field(pattern=FINGERPRINT_PATTERN)


class StoredResponse(BaseModel):
    """A completed request's answer, as it is replayed."""

    status: int = Field(ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body_gz_b64: str = Field(default="", description="gzip of the body, base64")

    @classmethod
    def of(cls, status: int, headers: dict[str, str], body: bytes) -> StoredResponse:
        kept = {k.lower(): v for k, v in headers.items() if k.lower() in STORED_HEADERS}
        packed = base64.b64encode(gzip.compress(body, compresslevel=6)).decode()
        return cls(status=status, headers=kept, body_gz_b64=packed)

    def body(self) -> bytes:
        return gzip.decompress(base64.b64decode(self.body_gz_b64)) if self.body_gz_b64 else b""

    def storable(self) -> bool:
        return len(self.body_gz_b64) <= MAX_STORED_BODY_BYTES


class IdempotencyRecord(BaseModel):
    key: str
    fingerprint: str
    state: State
    attempt: str = Field(description="The attempt holding the claim (e.g. its charge id)")
    claimed_at: int
    response: StoredResponse | None = None


Verdict = Literal["replay", "mismatch", "in_flight"]


def verdict(record: IdempotencyRecord, request_fingerprint: str) -> Verdict:
    """What a request that found the key claimed gets."""
    if record.fingerprint != request_fingerprint:
        return "mismatch"
    if record.state == "completed" and record.response is not None:
        return "replay"
    return "in_flight"


def refusal(found: Verdict) -> AppError:
    """The answer to a request that may not run: another request under its key, or one in flight."""
    if found == "mismatch":
        return AppError(
            ErrorCode.VALIDATION_FAILED,
            "This Idempotency-Key was used for a different request; use a new key for a new request",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with another request", "type": "conflict"}],
        )
    return AppError(
        ErrorCode.CONFLICT,
        "A request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


class IdempotencyItems:
    """DynamoDB items of idempotency records in one table (``pk``/``sk`` string keys, TTL
    ``expires_at``): partition ``IDEM#<scope>`` (e.g. the user), sort key the idempotency key."""

    def __init__(self, table: str) -> None:
        self.table = table

    @staticmethod
    def key(scope: str, idem_key: str) -> dict[str, Any]:
        return {"pk": {"S": f"IDEM#{scope}"}, "sk": {"S": idem_key}}

    def claim(self, scope: str, claim: IdempotencyClaim, attempt: str, now: int) -> dict[str, Any]:
        """A transaction item: the claim, unless a live record holds the key."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    **self.key(scope, claim.key),
                    "fingerprint": {"S": claim.fingerprint},
                    "state": {"S": "in_flight"},
                    "attempt": {"S": attempt},
                    "claimed_at": {"N": str(now)},
                    "lease_until": {"N": str(now + LEASE_S)},
                    "expires_at": {"N": str(now + RETENTION_S)},
                },
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now "
                "OR (#state = :in_flight AND lease_until < :now)",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":now": {"N": str(now)}, ":in_flight": {"S": "in_flight"}},
            }
        }

    def complete(self, scope: str, idem_key: str, attempt: str, response: StoredResponse) -> dict[str, Any]:
        """An UpdateItem request: store the answer, if this attempt still holds the claim."""
        return {
            "TableName": self.table,
            "Key": self.key(scope, idem_key),
            "UpdateExpression": "SET #state = :completed, #response = :response REMOVE lease_until",
            "ConditionExpression": "attempt = :attempt AND #state = :in_flight",
            "ExpressionAttributeNames": {"#state": "state", "#response": "response"},
            "ExpressionAttributeValues": {
                ":completed": {"S": "completed"},
                ":in_flight": {"S": "in_flight"},
                ":attempt": {"S": attempt},
                ":response": {"S": response.model_dump_json()},
            },
        }

    def release(self, scope: str, idem_key: str, attempt: str) -> dict[str, Any]:
        """A DeleteItem request: free the key, if this attempt still holds it in flight."""
        return {
            "TableName": self.table,
            "Key": self.key(scope, idem_key),
            "ConditionExpression": "attempt = :attempt AND #state = :in_flight",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":attempt": {"S": attempt}, ":in_flight": {"S": "in_flight"}},
        }

    @staticmethod
    def record_of(item: dict[str, Any] | None, now: int) -> IdempotencyRecord | None:
        """The live record of a GetItem answer (None when absent or expired)."""
        if not item or int(item.get("expires_at", {"N": "0"})["N"]) < now:
            return None
        raw = item.get("response", {}).get("S")
        return IdempotencyRecord(
            key=item["sk"]["S"],
            fingerprint=item["fingerprint"]["S"],
            state=item["state"]["S"],
            attempt=item["attempt"]["S"],
            claimed_at=int(item["claimed_at"]["N"]),
            response=StoredResponse.model_validate_json(raw) if raw else None,
        )
