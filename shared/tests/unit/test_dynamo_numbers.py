"""Floats are stored as DynamoDB numbers (boto3's serializer refuses Python floats)."""

from __future__ import annotations

from decimal import Decimal

from algoitny_shared.dynamo import from_item, to_item, to_value


def test_floats_round_trip_through_items() -> None:
    item = to_item({"tol": 1e-6, "nested": {"xs": [0.5, 2]}, "gone": None})
    assert Decimal(item["tol"]["N"]) == Decimal("1e-6") and "gone" not in item
    assert from_item(item) == {"tol": 1e-6, "nested": {"xs": [0.5, 2]}}
    assert to_value(0.25) == {"N": "0.25"} and to_value(Decimal("3")) == {"N": "3"}
