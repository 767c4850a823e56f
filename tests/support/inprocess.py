"""Use cases on the in-memory unit of work, with no real part (no moto server, no Kafka).

``in_process_dynamo(owner, ...)`` gives a ``Store``: DynamoDB simulated inside the test process
(moto's ``mock_aws``: no server, no socket) holding the tables of the named owners, for the
services' own repositories to read; and ``store.uow``, a factory of the kit's
``InMemoryUnitOfWork`` whose every commit is applied to those tables as one transaction,
conditions and all. A failed condition cancels the commit with DynamoDB's reasons, lined up
with the unit of work's items (its outbox rows never fail), exactly as ``DynamoUnitOfWork``
raises them. The events committed are collected in ``store.events``; nothing is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.tables import TableSpec, ensure_tables, tables_of
from algoitny_shared.uow import InMemoryUnitOfWork

NAMESPACE = "unit"
REGION = "us-east-1"


def _is_outbox_row(item: dict[str, Any]) -> bool:
    return item.get("Put", {}).get("TableName") == "outbox"


class Store:
    def __init__(self, client: Any, s3: Any, namespace: str) -> None:
        self.client = client
        self.s3 = s3
        self.namespace = namespace
        self.events: list[EventEnvelope] = []
        self.commits = 0

    def _apply(self, items: list[dict[str, Any]]) -> list[str] | None:
        writes = [item for item in items if not _is_outbox_row(item)]
        if writes:
            try:
                self.client.transact_write_items(TransactItems=writes)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = iter(r.get("Code", "None") for r in exc.response.get("CancellationReasons", []))
                return ["None" if _is_outbox_row(item) else next(codes, "None") for item in items]
        self.commits += 1
        return None

    def uow(self) -> InMemoryUnitOfWork:
        store = self

        class _Uow(InMemoryUnitOfWork):
            async def _send(self, items: list[dict[str, Any]], events: list[EventEnvelope]) -> None:
                await super()._send(items, events)
                store.events.extend(events)

        return _Uow(cancel=self._apply)

    def payloads(self, event_type: str) -> list[Any]:
        """The payloads of the committed events of one type (``service.Name``), in commit order."""
        return [REGISTRY.decode(e) for e in self.events if e.event_type == event_type]

    def types(self) -> list[str]:
        return [e.event_type for e in self.events]

    def table(self, spec: TableSpec) -> str:
        return spec.physical(self.namespace)

    def scan(self, spec: TableSpec) -> list[dict[str, Any]]:
        from algoitny_shared.dynamo import from_item

        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table(spec)}
        while True:
            resp = self.client.scan(**kwargs)
            items.extend(from_item(i) for i in resp["Items"])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


@functools.cache
def _session() -> boto3.session.Session:
    """One boto3 session for every test of the process. ``mock_aws`` drops boto3's default session
    at each start, and a new session parses the service models' JSON again (~0.1 s a client); this
    one keeps them. It is made after moto is imported, so moto's request hook is among its handlers
    (active only inside ``mock_aws``)."""
    return boto3.session.Session()


@contextmanager
def in_process_dynamo(*owners: str, namespace: str = NAMESPACE, buckets: bool = False) -> Iterator[Store]:
    """The tables of ``owners`` (e.g. "ratelimit") in an in-process DynamoDB; with ``buckets``,
    the platform's S3 buckets too."""
    with mock_aws():
        kwargs = {"region_name": REGION, "aws_access_key_id": "unit", "aws_secret_access_key": "unit"}
        client = _session().client("dynamodb", **kwargs)
        s3 = _session().client("s3", **kwargs)
        # Their exception classes made now, as the platform's clients do (algoitny_shared.dynamo):
        # use cases call them from several threads at once, and botocore makes them lazily, unlocked.
        client.exceptions  # noqa: B018
        s3.exceptions  # noqa: B018
        ensure_tables(client, namespace, [spec for owner in owners for spec in tables_of(owner)])
        if buckets:
            from algoitny_shared.buckets import all_buckets, ensure_buckets

            ensure_buckets(s3, namespace, all_buckets())
        yield Store(client, s3, namespace)
