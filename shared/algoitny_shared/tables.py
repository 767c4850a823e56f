"""DynamoDB tables: the spec type, the tables every service builds the same way (outbox, inbox,
legacy import), creation and index back-fill, and the registry of every service's tables.

A table belongs to exactly one service (``owner``), which declares it in its own
``algoitny_<service>/adapters/tables.py``; no other service reads it. Physical names are
``<namespace>-<owner>-<name>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    owner: str
    name: str
    hash_key: str
    range_key: str | None = None
    attributes: dict[str, KeyType] = field(default_factory=dict)
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "KEYS_ONLY"] | None = None
    description: str = ""

    def physical(self, namespace: str) -> str:
        return f"{namespace}-{self.owner}-{self.name}"

    def create_request(self, namespace: str) -> dict[str, Any]:
        def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
            return schema

        request: dict[str, Any] = {
            "TableName": self.physical(namespace),
            "KeySchema": key_schema(self.hash_key, self.range_key),
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in self.attributes.items()],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            gsis = []
            for index in self.indexes:
                projection: dict[str, Any] = {"ProjectionType": index.projection}
                if index.non_key_attributes:
                    projection["NonKeyAttributes"] = list(index.non_key_attributes)
                gsis.append(
                    {
                        "IndexName": index.name,
                        "KeySchema": key_schema(index.hash_key, index.range_key),
                        "Projection": projection,
                    }
                )
            request["GlobalSecondaryIndexes"] = gsis
        if self.stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream}
        return request


def outbox_table(owner: str) -> TableSpec:
    """The transactional outbox of a service: events written in the same transaction as state.

    The relay deletes an event's item once it has published it (Kafka is the record of what
    was published), so the table holds the unpublished events (each with ``pending``, its shard:
    ``PendingIndex`` is sparse and holds them in write order) and the relays' leases item.
    ``expires_at`` is the TTL attribute of items written before that change (sent, kept 7 days).
    """
    return TableSpec(
        owner=owner,
        name="Outbox",
        hash_key="event_id",
        attributes={"event_id": "S", "pending": "S", "seq": "S"},
        indexes=(Index("PendingIndex", "pending", "seq"),),
        ttl_attribute="expires_at",
        description="Transactional outbox; published events are deleted by the relay.",
    )


def inbox_table(owner: str) -> TableSpec:
    """Idempotent consumption: one item per (consumer, event id), written with a conditional put."""
    return TableSpec(
        owner=owner,
        name="Inbox",
        hash_key="pk",
        attributes={"pk": "S"},
        ttl_attribute="expires_at",
        description="Processed event ids per consumer; expire after 14 days.",
    )


def legacy_row_import_table(owner: str) -> TableSpec:
    """A service's legacy-import state (algoitny_shared.legacy.row_importer): per imported legacy row
    ROW#<table>/<key> (log position, captured-row hash, status, refs to the items it made),
    COUNT/<table> (imported, deleted, quarantined counters), CONTROL/paused, and what the
    service's importer keeps aside (e.g. problems: TC#<legacy problem id> staged test cases)."""
    return TableSpec(
        owner=owner,
        name="LegacyImport",
        hash_key="pk",
        range_key="sk",
        attributes={"pk": "S", "sk": "S"},
        description="Legacy import state: ROW#<table>/<key> per legacy row (position, hash, status, item refs), "
        "COUNT/<table> counters, CONTROL/paused; service-specific staging (see the service README).",
    )


def legacy_quarantine_table(owner: str) -> TableSpec:
    """Legacy rows a service could not import: QUAR/<table>#<key> with reason, operation, first and
    last seen, attempts and the captured row (long text columns cut)."""
    return TableSpec(
        owner=owner,
        name="LegacyQuarantine",
        hash_key="pk",
        range_key="sk",
        attributes={"pk": "S", "sk": "S"},
        description="Quarantined legacy rows (QUAR/<table>#<key>): reason, op, first/last seen, attempts, "
        "the captured row trimmed.",
    )


# ---------------------------------------------------------------- every service's tables

TABLES_ENTRY_POINTS = "algoitny.tables"
"""Entry-point group through which each service package publishes its tables: the entry point's
name is the owner, its value ``algoitny_<service>.adapters.tables:TABLES`` (the service's
``pyproject.toml``). Tools that need every table (provisioning, backup, the capacity recorder,
the infrastructure code) read them here, so this library imports no service."""


@cache
def all_tables() -> tuple[TableSpec, ...]:
    """Every table of every installed service, ordered by owner, then as the owner declares them.

    Refuses a spec whose owner is not the entry point's name, and two specs with the same name."""
    found: list[TableSpec] = []
    for entry in sorted(entry_points(group=TABLES_ENTRY_POINTS), key=lambda e: e.name):
        specs = entry.load()
        for spec in specs:
            if not isinstance(spec, TableSpec) or spec.owner != entry.name:
                raise ValueError(f"{entry.value} declares {spec!r}, not a table owned by {entry.name}")
            found.append(spec)
    names = [spec.physical("ns") for spec in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"tables declared twice: {', '.join(duplicates)}")
    return tuple(found)


def tables_of(owner: str) -> tuple[TableSpec, ...]:
    return tuple(t for t in all_tables() if t.owner == owner)


def ensure_tables(client: Any, namespace: str, specs: Iterable[TableSpec]) -> list[str]:
    """Create the tables that do not exist yet, and the declared indexes an existing table
    lacks (idempotent); returns what it created (``table`` or ``table/index``)."""
    created: list[str] = []
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    for spec in specs:
        name = spec.physical(namespace)
        if name in existing:
            created.extend(f"{name}/{index}" for index in add_missing_indexes(client, namespace, spec))
            continue
        try:
            client.create_table(**spec.create_request(namespace))
        except client.exceptions.ResourceInUseException:
            continue
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
        created.append(name)
    return created


def add_missing_indexes(client: Any, namespace: str, spec: TableSpec, *, timeout_s: float = 600.0) -> list[str]:
    """Add the GSIs ``spec`` declares that the live table lacks, one at a time (DynamoDB allows
    one index creation per UpdateTable), waiting until each is ACTIVE (backfilled) so that code
    querying it never starts early. Indexes the table has but the spec no longer declares are
    left alone: dropping one is a deliberate, separate step."""
    name = spec.physical(namespace)
    request = spec.create_request(namespace)
    described = client.describe_table(TableName=name)["Table"]
    present = {g["IndexName"] for g in described.get("GlobalSecondaryIndexes", [])}
    added = []
    for gsi in request.get("GlobalSecondaryIndexes", []):
        if gsi["IndexName"] in present:
            continue
        client.update_table(
            TableName=name,
            AttributeDefinitions=request["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": gsi}],
        )
        deadline = time.monotonic() + timeout_s
        while True:
            indexes = client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
            status = next((g.get("IndexStatus") for g in indexes if g["IndexName"] == gsi["IndexName"]), None)
            if status == "ACTIVE":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"index {gsi['IndexName']} of {name} not active after {timeout_s:.0f} s")
            time.sleep(1.0)
        added.append(gsi["IndexName"])
    return added
