"""The capacity hook on a real client against moto: every call is recorded with units by
DynamoDB's rules (GSI writes included), the API call it served, and moto's own figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from algoitny_accounts.adapters.tables import USERS
from algoitny_shared.capacity import CURRENT_CALL, read_records
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


def test_calls_are_recorded_with_units_and_gsi_writes(provisioned: dict[str, Any], tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="tests", capacity_log=str(tmp_path))
    client = dynamodb(settings)
    assert client is dynamodb(settings)  # one recording client per process, like the plain one
    table = USERS.physical(settings.namespace)
    user = {
        "pk": {"S": "USER#cap-user"},
        "email": {"S": "cap@example.dev"},
        "listed": {"S": "1"},
        "created_at": {"S": "2026-01-01T00:00:00Z"},
        "bio": {"S": "x" * 2500},
    }
    token = CURRENT_CALL.set("tests POST /users")
    try:
        client.put_item(TableName=table, Item=user)
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "USER#cap-user"}},
            UpdateExpression="SET bio = :b",
            ExpressionAttributeValues={":b": {"S": "y" * 100}},
        )
        got = client.get_item(TableName=table, Key={"pk": {"S": "USER#cap-user"}}, ConsistentRead=True)
        assert got["Item"]["bio"]["S"] == "y" * 100  # the hook does not change what callers get
    finally:
        CURRENT_CALL.reset(token)
    client.query(
        TableName=table,
        IndexName="EmailIndex",
        KeyConditionExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": "cap@example.dev"}},
    )
    records = read_records(tmp_path)
    put = [r for r in records if r["op"] == "PutItem"]
    assert {r["index"] for r in put} == {None, "EmailIndex", "UserListIndex", "EmailPrefixIndex"}
    assert next(r for r in put if r["index"] is None)["units"] == 3.0  # ~2.6 KB -> 3 write units
    assert "reported" in next(r for r in put if r["index"] is None)  # moto's ConsumedCapacity kept beside
    update = next(r for r in records if r["op"] == "UpdateItem" and r["index"] is None)
    assert update["units"] == 3.0  # the larger of the item before (2.6 KB) and after
    get = next(r for r in records if r["op"] == "GetItem")
    assert get["units"] == 1.0 and get["call"] == "tests POST /users"
    query = next(r for r in records if r["op"] == "Query")
    assert query["index"] == "EmailIndex" and query["units"] == 0.5 and query["call"] == "background"
