"""deploy/local/moto_server.py: transactions roll back by item, without copying tables.

Runs moto in-process (mock_aws) with the same patch the local server installs, and checks
DynamoDB's all-or-nothing semantics: a cancelled transaction leaves every item it named
exactly as it was (updated items restored, new items gone), a successful one applies all.
"""

from __future__ import annotations

import copy
import importlib.util
import re
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
    patch = _load_patch()
    patch.install_item_level_rollback()
    patch.install_cheap_expression_copy()
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
    # An update creating its item (moto validates the copied expression twice), and one refused.
    new = {"pk": {"S": "b"}, "sk": {"S": "2"}}
    update = {
        "UpdateExpression": "SET #s = :s, m.x = :one ADD n :one, tags :tags REMOVE gone",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "imported"}, ":one": {"N": "1"}, ":tags": {"SS": ["a"]}},
    }
    with pytest.raises(ClientError):  # m does not exist yet: no document path to set m.x on
        client.update_item(TableName="t", Key=new, **update)
    update["UpdateExpression"] = "SET #s = :s, m = :m ADD n :one, tags :tags REMOVE gone"
    update["ExpressionAttributeValues"][":m"] = {"M": {"x": {"N": "1"}}}  # type: ignore[index]
    for _ in range(2):
        client.transact_write_items(TransactItems=[{"Update": {"TableName": "t", "Key": new, **update}}])
    assert _item(client, "t", new) == {
        **new,
        "status": {"S": "imported"},
        "m": {"M": {"x": {"N": "1"}}},
        "n": {"N": "2"},
        "tags": {"SS": ["a"]},
    }


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


def test_keyed_queries_answer_exactly_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """install_keyed_query: a table Query reads its partition only, an index Query skips moto's
    first sort of the whole table; results, order and pages are moto's own."""
    from moto.dynamodb.models.table import Table

    _load_patch().install_keyed_query()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="q",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gpk", "gsk")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI",
                    "KeySchema": [
                        {"AttributeName": "gpk", "KeyType": "HASH"},
                        {"AttributeName": "gsk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.create_table(
            TableName="n",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "at", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.create_table(
            TableName="k",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(60):
            item = {"pk": {"S": f"p{i % 4}"}, "sk": {"S": f"{(i * 7) % 60:03d}"}, "n": {"N": str(i)}}
            if i % 3:  # sparse index, ties on gsk broken by the table's keys
                item |= {"gpk": {"S": f"g{i % 2}"}, "gsk": {"S": f"{i % 5}"}}
            ddb.put_item(TableName="q", Item=item)
            ddb.put_item(TableName="k", Item={"id": {"S": f"k{i}"}})
            ddb.put_item(TableName="n", Item={"pk": {"S": "p1"}, "at": {"N": str((i * 37) % 101 - 50)}})

        def pages(**request: Any) -> list[Any]:
            out, start = [], None
            while True:
                resp = ddb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
                out.append((resp["Items"], resp.get("LastEvaluatedKey")))
                start = resp.get("LastEvaluatedKey")
                if not start:
                    return out

        values = {
            ":p": {"S": "p1"},
            ":lo": {"S": "010"},
            ":hi": {"S": "045"},
            ":b": {"S": "0"},
            ":g": {"S": "g1"},
            ":x": {"S": "k7"},
            ":n": {"N": "-7"},
            ":odd": {"N": "1"},
        }
        requests: list[dict[str, Any]] = [
            {"TableName": "q", "KeyConditionExpression": "pk = :p", "Limit": 4},
            {"TableName": "q", "KeyConditionExpression": "pk = :p AND sk > :lo", "ScanIndexForward": False, "Limit": 3},
            {"TableName": "q", "IndexName": "GSI", "KeyConditionExpression": "gpk = :g", "Limit": 5},
            {"TableName": "q", "IndexName": "GSI", "KeyConditionExpression": "gpk = :g", "ScanIndexForward": False},
            {"TableName": "q", "KeyConditionExpression": "pk = :p AND begins_with(sk, :b)", "Limit": 2},
            {
                "TableName": "q",
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
                "ScanIndexForward": False,
                "Limit": 2,
            },
            {"TableName": "q", "KeyConditionExpression": "pk = :p", "FilterExpression": "n > :odd", "Limit": 3},
            {
                "TableName": "n",
                "KeyConditionExpression": "pk = :p AND #a >= :n",
                "Limit": 7,
                "ExpressionAttributeNames": {"#a": "at"},
            },
            {"TableName": "n", "KeyConditionExpression": "pk = :p", "ScanIndexForward": False, "Limit": 9},
            {"TableName": "q", "KeyConditionExpression": "pk = :x"},  # no such partition
            {"TableName": "k", "KeyConditionExpression": "id = :x"},
        ]

        def answers() -> list[Any]:
            return [
                pages(**r, ExpressionAttributeValues={k: values[k] for k in re.findall(r":\w+", str(r))})
                for r in requests
            ]

        keyed = answers()
        assert [len(items) for items, _ in keyed[0]] == [4, 4, 4, 3]  # 15 items of p1, in pages
        assert keyed[-1][0][0] == [{"id": {"S": "k7"}}]
        numbers = sorted((i * 37) % 101 - 50 for i in range(60))
        assert [int(i["at"]["N"]) for items, _ in keyed[-4] for i in items] == [n for n in numbers if n >= -7]
        assert [int(i["at"]["N"]) for items, _ in keyed[-3] for i in items] == numbers[::-1]
        monkeypatch.setattr(Table, "query", Table._algoitny_unkeyed_query)  # type: ignore[attr-defined]
        assert answers() == keyed


def _serialized_body(operation: str, result: dict[str, Any]) -> str:
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model

    service = get_service_model("dynamodb")
    serializer_cls = get_serializer_class(service.service_name, service.protocol)
    model = service.operation_model(operation)
    serializer = serializer_cls(operation_model=model, pretty_print=False, value_picker=XFormedAttributePicker())
    return str(serializer.serialize(copy.deepcopy(result))["body"])


def test_plain_items_serialize_exactly_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """install_plain_item_serializer: the same JSON, byte for byte, as moto's own serializer, for
    items of every attribute type (binary ones take moto's path), in every read's answer shape."""
    from moto.core.serialize import BaseJSONSerializer

    plain = {
        "pk": {"S": "p1"},
        "empty": {"S": ""},
        "n": {"N": "-12.5"},
        "yes": {"BOOL": True},
        "no": {"BOOL": False},
        "nothing": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "nums": {"NS": ["1", "2"]},
        "m": {"M": {"x": {"S": "1"}, "deep": {"L": [{"N": "1"}, {"M": {}}, {"L": []}]}}},
        "l": {"L": []},
        "hangul": {"S": '벤치 "quoted" \\ slash'},
    }
    binary = {**plain, "b": {"B": "AAEC"}, "bs": {"BS": ["AAEC", "AwQ="]}}
    answers = {
        "GetItem": {"Item": plain},
        "Query": {
            "Items": [plain, binary, {"pk": {"S": "p2"}}],
            "Count": 3,
            "ScannedCount": 3,
            "LastEvaluatedKey": {"pk": {"S": "p2"}},
            "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0},
        },
        "Scan": {"Items": [], "Count": 0, "ScannedCount": 0},
        "BatchGetItem": {"Responses": {"t": [plain, binary], "u": []}, "UnprocessedKeys": {}},
        "TransactGetItems": {"Responses": [{"Item": plain}, {"Item": binary}, {}]},
        "UpdateItem": {"Attributes": binary},
    }
    moto_own = {op: _serialized_body(op, result) for op, result in answers.items()}
    _load_patch().install_plain_item_serializer()
    patched = BaseJSONSerializer._serialize_type_map
    assert getattr(patched, "_algoitny_plain_items", False)
    assert {op: _serialized_body(op, result) for op, result in answers.items()} == moto_own
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_map", patched._algoitny_original)  # type: ignore[attr-defined]
