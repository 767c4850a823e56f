"""deploy/local/moto_server.py: transactions roll back by item, without copying tables.

Runs moto in-process (mock_aws) with the same patch the local server installs, and checks
DynamoDB's all-or-nothing semantics: a cancelled transaction leaves every item it named
exactly as it was (updated items restored, new items gone), a successful one applies all.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

MOTO_SERVER = Path(__file__).resolve().parents[2] / "deploy" / "local" / "moto_server.py"


def _load_patch() -> Any:
    spec = importlib.util.spec_from_file_location("algoitny_local_moto_server", MOTO_SERVER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client() -> Iterator[Any]:
    _load_patch().install_item_level_rollback()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.create_table(
            TableName="h",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield ddb


def _item(ddb: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")  # type: ignore[no-any-return]


def test_cancelled_transaction_restores_every_named_item(client: Any) -> None:
    client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    client.put_item(TableName="h", Item={"id": {"S": "x"}, "v": {"S": "keep"}})
    client.put_item(TableName="h", Item={"id": {"S": "gone"}, "v": {"S": "still here"}})

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"S": "new"}}}},
                {"Delete": {"TableName": "h", "Key": {"id": {"S": "gone"}}}},
                {"Put": {"TableName": "h", "Item": {"id": {"S": "y"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "h",
                        "Key": {"id": {"S": "x"}},
                        "ConditionExpression": "v = :other",
                        "ExpressionAttributeValues": {":other": {"S": "different"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _item(client, "t", {"pk": {"S": "a"}, "sk": {"S": "1"}}) == {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "n": {"N": "1"},
    }
    assert _item(client, "t", {"pk": {"S": "a"}, "sk": {"S": "new"}}) is None
    assert _item(client, "h", {"id": {"S": "gone"}}) == {"id": {"S": "gone"}, "v": {"S": "still here"}}
    assert _item(client, "h", {"id": {"S": "y"}}) is None
    assert client.scan(TableName="t")["Count"] == 1
    assert client.scan(TableName="h")["Count"] == 2


def test_successful_transaction_applies_every_item(client: Any) -> None:
    client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "UpdateExpression": "ADD n :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {
                "Put": {
                    "TableName": "h",
                    "Item": {"id": {"S": "z"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            },
        ]
    )
    assert _item(client, "t", {"pk": {"S": "a"}, "sk": {"S": "1"}})["n"] == {"N": "2"}  # type: ignore[index]
    assert _item(client, "h", {"id": {"S": "z"}}) == {"id": {"S": "z"}}


def test_no_table_is_copied(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unpatched, moto deep-copies each table a transaction names: cost grows with the table."""
    from moto.dynamodb.models.table import Table

    def refuse(self: Any, memo: Any) -> Any:
        raise AssertionError(f"table {self.name} deep-copied")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    client.put_item(TableName="h", Item={"id": {"S": "x"}, "v": {"S": "keep"}})
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "h", "Item": {"id": {"S": "ok"}}}}])
    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "p"}, "sk": {"S": "s"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "h",
                        "Key": {"id": {"S": "x"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                },
            ]
        )
    assert _item(client, "h", {"id": {"S": "ok"}}) == {"id": {"S": "ok"}}
    assert _item(client, "t", {"pk": {"S": "p"}, "sk": {"S": "s"}}) is None
