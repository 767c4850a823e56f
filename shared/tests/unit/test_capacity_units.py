"""Consumed-capacity arithmetic: item sizes and units by DynamoDB's documented rules (no I/O)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from algoitny_shared.capacity import (
    CapacityRecorder,
    item_size,
    logical_name,
    read_records,
    read_units,
    value_size,
    write_records,
    write_units,
)
from algoitny_shared.tables import Index, TableSpec

# A table shaped like accounts' Users (this library's tests use no service's declarations).
USERS = TableSpec(
    owner="accounts",
    name="Users",
    hash_key="pk",
    attributes={"pk": "S", "email": "S", "google_id": "S", "plan_id": "S", "created_at": "S", "listed": "S"},
    indexes=(
        Index("EmailIndex", "email"),
        Index("GoogleIdIndex", "google_id"),
        Index("PlanIndex", "plan_id", "created_at"),
        Index("UserListIndex", "listed", "created_at"),
        Index("EmailPrefixIndex", "listed", "email"),
    ),
)


def test_sizes_follow_the_documented_rules() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "123456"}) == 4  # 3 bytes for 6 digits + 1
    assert value_size({"N": "-0.00120"}) == 2  # leading/trailing zeroes trimmed: "12"
    assert value_size({"BOOL": True}) == 1 and value_size({"NULL": True}) == 1
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert value_size({"SS": ["a", "bc"]}) == 3
    assert item_size({"pk": {"S": "abc"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)
    assert item_size(None) == 0


def test_units_round_up_per_block() -> None:
    assert read_units(0) == 0.5 and read_units(4096) == 0.5 and read_units(4097) == 1.0
    assert read_units(5000, consistent=True) == 2.0
    assert read_units(100, transactional=True) == 2.0
    assert write_units(0) == 1.0 and write_units(1024) == 1.0 and write_units(3000) == 3.0
    assert write_units(3000, transactional=True) == 6.0


def test_gsi_write_amplification_and_key_moves() -> None:
    base = {"user_id": {"S": "u1"}, "email": {"S": "a@b.c"}, "listed": {"S": "1"}, "created_at": {"S": "t"}}
    recs = write_records(USERS, "accounts.Users", None, base)
    indexes = sorted(r["index"] for r in recs if r["index"])
    # Present keys: EmailIndex (email), UserListIndex/EmailPrefixIndex (listed+created_at / listed+email).
    assert indexes == ["EmailIndex", "EmailPrefixIndex", "UserListIndex"]
    assert sum(r["units"] for r in recs) == 4.0
    moved = write_records(USERS, "accounts.Users", base, {**base, "email": {"S": "new@b.c"}})
    email = [r for r in moved if r["index"] == "EmailIndex"]
    assert len(email) == 2  # the old entry deleted, the new one put
    assert logical_name("bench12-accounts-Users", "bench12") == "accounts.Users"


class FakeSizer:
    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self.items = items

    def get_item(self, TableName: str, Key: dict[str, Any], ConsistentRead: bool) -> dict[str, Any]:
        found = self.items.get(Key["user_id"]["S"])
        return {"Item": found} if found else {}


def test_recorder_records_calls_with_their_api_call(tmp_path: Any) -> None:
    from algoitny_shared.capacity import CURRENT_CALL

    old = {"user_id": {"S": "u1"}, "name": {"S": "x" * 2000}}
    new = {"user_id": {"S": "u1"}, "name": {"S": "y" * 3000}}
    sizer = FakeSizer({"u1": old})
    rec = CapacityRecorder(tmp_path, service="accounts", namespace="ns1", sizer=sizer, tables=(USERS,))
    model = SimpleNamespace(name="UpdateItem")
    params: dict[str, Any] = {"TableName": "ns1-accounts-Users", "Key": {"user_id": {"S": "u1"}}}
    context: dict[str, Any] = {}
    token = CURRENT_CALL.set("accounts PATCH /me")
    try:
        rec.before(params=params, model=model, context=context)
        assert params["ReturnConsumedCapacity"] == "INDEXES"
        sizer.items["u1"] = new
        rec.after(
            parsed={"ConsumedCapacity": {"TableName": "ns1-accounts-Users", "CapacityUnits": 0.5}},
            model=model,
            context=context,
        )
    finally:
        CURRENT_CALL.reset(token)
    (row,) = read_records(tmp_path)
    assert row["call"] == "accounts PATCH /me" and row["op"] == "UpdateItem" and row["table"] == "accounts.Users"
    assert row["units"] == 3.0 and row["reported"] == 0.5  # larger of before/after: ~3 KB -> 3 units

    query = SimpleNamespace(name="Query")
    ctx2: dict[str, Any] = {}
    qparams = {"TableName": "ns1-accounts-Users", "IndexName": "EmailIndex"}
    rec.before(params=qparams, model=query, context=ctx2)
    rec.after(parsed={"Items": [new, new]}, model=query, context=ctx2)
    last = read_records(tmp_path)[-1]
    assert last["index"] == "EmailIndex" and last["units"] == 1.0 and last["call"] == "background"


def test_a_batch_get_that_finds_nothing_is_still_recorded_with_its_timing(tmp_path: Any) -> None:
    """Counters not written yet: the call was made (and costs a read per key), so the bare replay
    must see it; each call carries its start, end and the request's trace id."""
    from algoitny_shared.logging import trace_id_var

    rec = CapacityRecorder(tmp_path, service="ratelimit", namespace="ns1", sizer=FakeSizer({}))
    model = SimpleNamespace(name="BatchGetItem")
    keys = [{"pk": {"S": "a"}, "sk": {"S": "b"}}, {"pk": {"S": "a"}, "sk": {"S": "c"}}]
    params: dict[str, Any] = {"RequestItems": {"ns1-ratelimit-UsageLogs": {"Keys": keys, "ConsistentRead": True}}}
    context: dict[str, Any] = {}
    token = trace_id_var.set("t" * 32)
    try:
        rec.before(params=params, model=model, context=context)
    finally:
        trace_id_var.reset(token)
    rec.after(parsed={"Responses": {"ns1-ratelimit-UsageLogs": []}}, model=model, context=context)
    (row,) = read_records(tmp_path)
    assert row["op"] == "BatchGetItem" and row["units"] == 2.0 and "params" in row
    assert row["trace"] == "t" * 32 and row["start"] <= row["end"]
