"""Provisioning adds the indexes a table's declaration gained since the table was created.

Creating a missing table is easy; a long-lived table (production, or a developer's namespace)
also needs the GSIs added later, backfilled from the items already there.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from algoitny_shared.dynamo import dynamodb
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import Index, TableSpec, ensure_tables

pytestmark = pytest.mark.integration


def test_existing_table_gains_declared_indexes_backfilled(provisioned: dict[str, Any]) -> None:
    settings = ServiceSettings()
    client = dynamodb(settings)
    version_one = TableSpec(
        owner="tests",
        name=f"Migrated{uuid.uuid4().hex[:8]}",
        hash_key="pk",
        attributes={"pk": "S", "status": "S", "created_at": "S"},
        indexes=(Index("StatusIndex", "status", "created_at"),),
    )
    version_two = dataclasses.replace(
        version_one,
        attributes={**version_one.attributes, "owner_id": "S"},
        indexes=(*version_one.indexes, Index("OwnerIndex", "owner_id", "created_at", projection="KEYS_ONLY")),
    )
    name = version_one.physical(settings.namespace)
    try:
        assert ensure_tables(client, settings.namespace, [version_one]) == [name]
        for i in range(5):
            client.put_item(
                TableName=name,
                Item={
                    "pk": {"S": f"item-{i}"},
                    "status": {"S": "open"},
                    "created_at": {"S": f"2026-11-0{i + 1}"},
                    "owner_id": {"S": "alice" if i % 2 else "bob"},
                },
            )

        assert ensure_tables(client, settings.namespace, [version_two]) == [f"{name}/OwnerIndex"]
        assert ensure_tables(client, settings.namespace, [version_two]) == []  # idempotent

        indexes = {g["IndexName"]: g for g in client.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]}
        assert set(indexes) == {"StatusIndex", "OwnerIndex"}
        assert indexes["OwnerIndex"]["Projection"]["ProjectionType"] == "KEYS_ONLY"
        found = client.query(
            TableName=name,
            IndexName="OwnerIndex",
            KeyConditionExpression="owner_id = :o",
            ExpressionAttributeValues={":o": {"S": "alice"}},
            ScanIndexForward=False,
        )["Items"]
        assert [item["pk"]["S"] for item in found] == ["item-3", "item-1"]  # items from before the index
    finally:
        client.delete_table(TableName=name)
