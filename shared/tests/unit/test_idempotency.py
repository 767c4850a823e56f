"""The idempotency kit: fingerprints, records as stored, and what a request finding its key gets."""

from __future__ import annotations

import os

import pytest

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.idempotency import (
    LEASE_S,
    IdempotencyClaim,
    IdempotencyItems,
    IdempotencyRecord,
    StoredResponse,
    fingerprint,
    parse_key,
    refusal,
    verdict,
)


def test_fingerprints_compare_json_by_value_and_everything_else_exactly() -> None:
    base = fingerprint("POST", "/api/v1/runs", [], b'{"code": "x", "language": "py"}')
    assert fingerprint("post", "/api/v1/runs", [], b'{ "language":"py","code":"x" }') == base
    assert fingerprint("POST", "/api/v1/runs", [], b'{"code": "y", "language": "py"}') != base
    assert fingerprint("POST", "/api/v1/executions", [], b'{"code": "x", "language": "py"}') != base
    assert fingerprint("PUT", "/api/v1/runs", [], b'{"code": "x", "language": "py"}') != base
    assert fingerprint("POST", "/api/v1/runs", [("a", "1")], b'{"code": "x", "language": "py"}') != base
    assert fingerprint("POST", "/api/v1/runs", [], b"not json") != fingerprint("POST", "/api/v1/runs", [], b"not  json")


@pytest.mark.parametrize("bad", ["short", "has space!", "x" * 129, "ünïcode-key"])
def test_malformed_keys_are_400(bad: str) -> None:
    with pytest.raises(AppError) as err:
        parse_key(bad)
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert parse_key(None) is None and parse_key("") is None and parse_key("good-key:1.2_3") == "good-key:1.2_3"


def test_what_a_request_finding_its_key_gets() -> None:
    answer = StoredResponse.of(202, {"Content-Type": "application/json", "Set-Cookie": "x"}, b'{"id": "e1"}')
    assert answer.headers == {"content-type": "application/json"} and answer.body() == b'{"id": "e1"}'
    done = IdempotencyRecord(key="k" * 8, fingerprint="a" * 64, state="completed", attempt="a1", claimed_at=1)
    done = done.model_copy(update={"response": answer})
    assert verdict(done, "a" * 64) == "replay"
    assert verdict(done, "b" * 64) == "mismatch"
    flying = done.model_copy(update={"state": "in_flight", "response": None})
    assert verdict(flying, "a" * 64) == "in_flight"
    assert refusal("mismatch").code is ErrorCode.VALIDATION_FAILED
    conflict = refusal("in_flight")
    assert conflict.code is ErrorCode.CONFLICT and conflict.headers == {"Retry-After": "1"}


def test_records_round_trip_through_their_items_and_expire() -> None:
    items = IdempotencyItems("tbl")
    claim = IdempotencyClaim(key="key-00000001", fingerprint="f" * 64)
    put = items.claim("user-1", claim, "attempt-1", 1_000)["Put"]
    assert put["Item"]["pk"] == {"S": "IDEM#user-1"} and put["Item"]["lease_until"] == {"N": str(1_000 + LEASE_S)}
    assert "lease_until < :now" in put["ConditionExpression"]
    stored = StoredResponse.of(200, {"content-type": "application/json"}, b"{}")
    item = {**put["Item"], "state": {"S": "completed"}, "response": {"S": stored.model_dump_json()}}
    record = items.record_of(item, 1_000)
    assert record is not None and record.state == "completed" and record.response == stored
    assert items.record_of(item, 1_000 + 25 * 3600) is None  # past its TTL, even if not deleted yet
    assert items.record_of(None, 0) is None


def test_answers_too_large_to_store_are_told_apart() -> None:
    assert StoredResponse.of(200, {}, b"x" * 1_000_000).storable()  # compresses well
    assert not StoredResponse.of(200, {}, os.urandom(400_000)).storable()
