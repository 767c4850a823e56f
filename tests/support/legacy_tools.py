"""Debezium-shaped legacy records for tests (JSON converter without schemas, ExtractNewRecordState
with ``delete.tombstone.handling.mode=rewrite`` and ``add.fields=op,lsn,source.ts_ms``), as the
connector of services/migration writes them."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

_LSN = itertools.count(1_000_000, 8)


def django_hash(password: str, salt: str = "legacysalt", iterations: int = 1000) -> str:
    """What Django's PBKDF2PasswordHasher writes (``pbkdf2_sha256$<iterations>$<salt>$<b64>``)."""
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations, 32)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode()}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(table: str, row: dict[str, Any], *, op: str = "r", lsn: int | None = None) -> tuple[bytes, bytes]:
    """Key and value of one change; ``op="d"`` gives the rewritten delete (``__deleted=true``)."""
    pk = "task_id" if table == "task_results" else "id"
    value = {**row, "__op": op, "__lsn": lsn if lsn is not None else next(_LSN), "__source_ts_ms": 1_700_000_000_000}
    value["__deleted"] = "true" if op == "d" else "false"
    return json.dumps({pk: row[pk]}).encode(), json.dumps(value).encode()


def plan_row(legacy_id: int, name: str, **overrides: Any) -> dict[str, Any]:
    now = iso(datetime(2022, 1, 1, tzinfo=UTC))
    return {
        "id": legacy_id,
        "name": name,
        "description": f"{name} plan",
        "max_hints_per_day": 5,
        "max_executions_per_day": 50,
        "max_problems": -1,
        "can_view_all_problems": True,
        "can_register_problems": False,
        "is_active": True,
        "created_at": now,
        "updated_at": now,
        **overrides,
    }


def user_row(legacy_id: int, email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": legacy_id,
        "password": "!unusableGoogleOnly",
        "last_login": None,
        "is_superuser": False,
        "email": email,
        "name": f"User {legacy_id}",
        "picture": "",
        "google_id": None,
        "is_active": True,
        "is_staff": False,
        "created_at": iso(datetime(2023, 2, 1, 9, 30, tzinfo=UTC)),
        "updated_at": iso(datetime(2023, 2, 1, 9, 30, tzinfo=UTC)),
        "subscription_plan_id": None,
        **overrides,
    }


def usage_row(legacy_id: int, user_id: int, action: str, at: datetime, **overrides: Any) -> dict[str, Any]:
    return {
        "id": legacy_id,
        "user_id": user_id,
        "action": action,
        "problem_id": 7,
        "metadata": json.dumps({"task_id": f"t-{legacy_id}", "language": "python"}),
        "created_at": iso(at),
        **overrides,
    }


async def create_topics(bootstrap: str, names: list[str], partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def send(bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
