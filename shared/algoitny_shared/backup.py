"""Backup and restore of a namespace's data: ``make backup DIR=...`` / ``make restore DIR=...``.

    python -m algoitny_shared.backup backup  DIR|s3://bucket/prefix
    python -m algoitny_shared.backup restore DIR|s3://bucket/prefix [--force]

``backup`` writes, for every table of every service (``tables.all_tables()``: what each service
declares), its items as DynamoDB JSON lines (``tables/<logical name>.jsonl``, one ``{"Item": {...}}`` a line, binary
values base64 as in DynamoDB's own exports), the objects of the test-case bucket
(``buckets/<name>/<key>``), and ``manifest.json``: when, which namespace, item counts, and the
Kafka positions at that moment (every topic's end offsets, every consumer group's committed
offsets), so an operator sees which events came after the backup.

``restore`` provisions missing tables, buckets and topics, refuses any table that holds items
(unless ``--force``, which writes over what is there), then writes the items and objects back.
The projections (search index, statistics) are then rebuilt by replay: ``make restore`` runs
``python -m algoitny_search_indexer reindex`` and ``python -m algoitny_stats rebuild`` after it.
See docs/backup.md (also for AWS: point-in-time recovery and on-demand backups).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from algoitny_shared import batch_write
from algoitny_shared.buckets import all_buckets
from algoitny_shared.dynamo import dynamodb, s3
from algoitny_shared.outbox import LEASES_KEY
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import TableSpec, all_tables
from algoitny_shared.topics import all_topics

MANIFEST = "manifest.json"
FORMAT = "algoitny-backup/1"


class Store(Protocol):
    def write(self, name: str, data: bytes) -> None: ...
    def read(self, name: str) -> bytes: ...
    def names(self, prefix: str) -> list[str]: ...


class DirStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):  # an object key such as ../../etc/x
            raise ValueError(f"{name!r} would leave the backup directory")
        return path

    def write(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def read(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def names(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())


class S3Store:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)

    def read(self, name: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        return body

    def names(self, prefix: str) -> list[str]:
        found: list[str] = []
        strip = len(self._key(""))
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            found.extend(o["Key"][strip:] for o in page.get("Contents", []))
        return sorted(found)


def open_store(target: str, settings: ServiceSettings) -> Store:
    if target.startswith("s3://"):
        bucket, _, prefix = target[5:].partition("/")
        return S3Store(s3(settings), bucket, prefix)
    return DirStore(Path(target))


# DynamoDB JSON: boto3's low-level client gives bytes for B and BS; JSON lines carry them base64.
def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def _decode(value: Any, kind: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _decode(v, k) for k, v in value.items()}
    if kind == "B":
        return base64.b64decode(value)
    if kind == "BS":
        return [base64.b64decode(v) for v in value]
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def scan_items(client: Any, table: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def kafka_positions(settings: ServiceSettings) -> dict[str, Any]:
    """Every topic's end offsets and every consumer group's committed offsets of the namespace."""
    from algoitny_shared.offsets import KafkaOffsets

    topics = sorted({t.physical(settings.namespace) for t in all_topics()})
    async with KafkaOffsets(settings.kafka_bootstrap_servers) as offsets:
        ends: dict[str, dict[str, int]] = {}
        for topic in topics:
            ends[topic] = {str(p): o for p, o in sorted((await offsets.ends(topic)).items())}
        groups: dict[str, dict[str, dict[str, int]]] = {}
        for group_id in await offsets.groups():
            if not group_id.startswith(f"{settings.namespace}."):
                continue
            committed = await offsets.group_offsets(group_id)
            groups[group_id] = {t: {str(p): o for p, o in parts.items()} for t, parts in committed.items()}
        return {"topic_end_offsets": ends, "consumer_group_offsets": dict(sorted(groups.items()))}


def backup(settings: ServiceSettings, store: Store, tables: Iterable[TableSpec] | None = None) -> dict[str, Any]:
    started = datetime.now(UTC)
    # Kafka first: every event up to these offsets is older than the table snapshot below.
    kafka = asyncio.run(kafka_positions(settings))
    client = dynamodb(settings)
    counts: dict[str, int] = {}
    for spec in all_tables() if tables is None else tables:
        lines = [
            json.dumps({"Item": _encode(item)}, sort_keys=True)
            for item in scan_items(client, spec.physical(settings.namespace))
        ]
        store.write(f"tables/{spec.owner}-{spec.name}.jsonl", ("\n".join(lines) + "\n" if lines else "").encode())
        counts[f"{spec.owner}-{spec.name}"] = len(lines)
    storage = s3(settings)
    objects: dict[str, int] = {}
    for bucket in (b for b in all_buckets() if b.backed_up):
        name = bucket.physical(settings.namespace)
        n = 0
        for page in storage.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                store.write(
                    f"buckets/{bucket.owner}-{bucket.name}/{obj['Key']}",
                    storage.get_object(Bucket=name, Key=obj["Key"])["Body"].read(),
                )
                n += 1
        objects[f"{bucket.owner}-{bucket.name}"] = n
    manifest = {
        "format": FORMAT,
        "namespace": settings.namespace,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "tables": counts,
        "objects": objects,
        "kafka": kafka,
    }
    store.write(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest


class NotEmpty(Exception):
    """A table to restore into holds items (restore refuses unless forced)."""


def _runtime_item(item: dict[str, Any]) -> bool:
    """The outbox relays' shard-lease item: live coordination of the running relays, rewritten by
    them every few seconds, so it is neither restored nor a reason to refuse a restore."""
    return item.get("event_id") == LEASES_KEY["event_id"]


def _is_empty(client: Any, table: str) -> bool:
    items = client.scan(TableName=table, Limit=2).get("Items", [])
    return all(_runtime_item(item) for item in items)


def restore(settings: ServiceSettings, store: Store, *, force: bool = False) -> dict[str, Any]:
    manifest = json.loads(store.read(MANIFEST))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"not a backup of this kind: {manifest.get('format')!r}")
    from algoitny_shared.provision import provision

    provision(settings)  # tables, buckets and topics that are missing
    client = dynamodb(settings)
    specs = {f"{t.owner}-{t.name}": t for t in all_tables()}
    unknown = sorted(set(manifest["tables"]) - set(specs))
    if unknown:
        raise ValueError(f"the backup names tables this version does not know: {', '.join(unknown)}")
    if not force:
        full = [
            specs[n].physical(settings.namespace)
            for n in manifest["tables"]
            if not _is_empty(client, specs[n].physical(settings.namespace))
        ]
        if full:
            raise NotEmpty(f"tables hold items (restore only into empty tables, or --force): {', '.join(full)}")
    restored: dict[str, int] = {}
    for name in manifest["tables"]:
        raw = store.read(f"tables/{name}.jsonl").decode()
        items = [_decode(json.loads(line)["Item"]) for line in raw.splitlines() if line.strip()]
        items = [item for item in items if not _runtime_item(item)]
        requests = [{"PutRequest": {"Item": item}} for item in items]
        batch_write.write_all_sync(client, specs[name].physical(settings.namespace), requests)
        restored[name] = len(items)
    storage = s3(settings)
    objects: dict[str, int] = {}
    for bucket in (b for b in all_buckets() if b.backed_up):
        label = f"{bucket.owner}-{bucket.name}"
        prefix = f"buckets/{label}/"
        names = store.names(prefix)
        for name in names:
            storage.put_object(
                Bucket=bucket.physical(settings.namespace), Key=name[len(prefix) :], Body=store.read(name)
            )
        objects[label] = len(names)
    return {
        "namespace": settings.namespace,
        "from": manifest["namespace"],
        "backup_started_at": manifest["started_at"],
        "tables": restored,
        "objects": objects,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["backup", "restore"])
    parser.add_argument("target", help="a directory, or s3://bucket/prefix")
    parser.add_argument("--force", action="store_true", help="restore: write into tables that hold items")
    parser.add_argument("--namespace", help="overrides ALGOITNY_NAMESPACE")
    args = parser.parse_args(argv)
    overrides = {"namespace": args.namespace} if args.namespace else {}
    settings = ServiceSettings(service_name="backup", **overrides)
    store = open_store(args.target, settings)
    try:
        result = backup(settings, store) if args.command == "backup" else restore(settings, store, force=args.force)
    except NotEmpty as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
