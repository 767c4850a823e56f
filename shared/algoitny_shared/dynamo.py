"""boto3 clients created once per process (a fresh client costs ~20 ms of CPU on first use)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

from algoitny_shared.aws import MAX_POOL_CONNECTIONS
from algoitny_shared.settings import ServiceSettings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _client(kind: str, endpoint: str | None, region: str, key_id: str, secret: str) -> Any:
    """Empty keys mean boto3's default credential chain (on Kubernetes: the pod's IAM role through
    its service account), so no AWS key needs to sit in a manifest or a Secret.

    The client's exception classes are made here, once: botocore makes them on first use without a
    lock, so threads of the AWS pool failing at once on a new client could each make their own, and
    ``except client.exceptions.ConditionalCheckFailedException`` then missed the one raised (CI saw
    a sign-in's refused conditional write escape as an error)."""
    session: Any = boto3.session.Session()
    client = session.client(
        kind,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
        config=Config(
            retries={"max_attempts": 4, "mode": "standard"},
            max_pool_connections=MAX_POOL_CONNECTIONS,
            # Path-style: works with one local endpoint (moto) for every bucket.
            s3={"addressing_style": "path"} if kind == "s3" else None,
        ),
    )
    client.exceptions  # noqa: B018 (made now, before any thread shares the client)
    return client


@lru_cache(maxsize=16)
def _cached(kind: str, endpoint: str | None, region: str, key_id: str, secret: str) -> Any:
    return _client(kind, endpoint, region, key_id, secret)


def client_for(kind: str, settings: ServiceSettings) -> Any:
    return _cached(
        kind,
        settings.aws_endpoint_url,
        settings.aws_region,
        settings.aws_access_key_id.get_secret_value(),
        settings.aws_secret_access_key.get_secret_value(),
    )


def dynamodb(settings: ServiceSettings) -> Any:
    if settings.capacity_log:
        return _recording_dynamodb(
            settings.aws_endpoint_url,
            settings.aws_region,
            settings.aws_access_key_id.get_secret_value(),
            settings.aws_secret_access_key.get_secret_value(),
            settings.capacity_log,
            settings.service_name,
            settings.namespace,
        )
    return client_for("dynamodb", settings)


@lru_cache(maxsize=4)
def _recording_dynamodb(
    endpoint: str | None, region: str, key_id: str, secret: str, directory: str, service: str, namespace: str
) -> Any:
    """A client whose every call is recorded with its consumed capacity (see algoitny_shared.capacity)."""
    from algoitny_shared.capacity import CapacityRecorder

    sizer = _client("dynamodb", endpoint, region, key_id, secret)
    recorder = CapacityRecorder(directory, service=service, namespace=namespace, sizer=sizer)
    return recorder.install(_client("dynamodb", endpoint, region, key_id, secret))


def s3(settings: ServiceSettings) -> Any:
    return client_for("s3", settings)


def _numbers(value: Any) -> Any:
    """floats -> Decimal (boto3 refuses floats); through lists and maps."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB attribute-value map (None values dropped; floats stored as numbers)."""
    return {k: _serializer.serialize(_numbers(v)) for k, v in data.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute-value map -> plain dict (numbers back to int/float)."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def to_value(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = dict(_serializer.serialize(_numbers(value)))
    return result


def put_if_absent(table: str, key_attribute: str, data: dict[str, Any]) -> dict[str, Any]:
    """A transaction Put of an item that must not exist yet: a key already taken fails the
    transaction (a conflict), so a create never overwrites what is there."""
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(data),
            "ConditionExpression": f"attribute_not_exists({key_attribute})",
        }
    }


async def batch_get(
    client: Any, table: str, keys: Sequence[dict[str, Any]], *, consistent: bool = True
) -> list[dict[str, Any]]:
    """The items of ``table`` at ``keys`` that exist (raw DynamoDB items, any order): one
    ``BatchGetItem`` per 100 keys, the unprocessed keys asked again (``client``: an AsyncDynamoDB).

    A key given twice is asked once (BatchGetItem refuses a request that repeats a key)."""
    keys = list({json.dumps(key, sort_keys=True): key for key in keys}.values())
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": consistent}}
        for attempt in range(10):
            resp = await client.batch_get_item(RequestItems=request)
            found.extend(resp.get("Responses", {}).get(table, []))
            request = dict(resp.get("UnprocessedKeys") or {})
            if not request:
                break
            await asyncio.sleep(0.02 * 2**attempt)
        else:
            raise TimeoutError(f"{table}: keys still unprocessed after 10 tries")
    return found
