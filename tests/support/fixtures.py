"""pytest fixtures: real endpoints, a private namespace per run, provisioned tables/topics."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from support.endpoints import Endpoints, containers, docker_available, local_stack


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    if docker_available():
        with containers() as found:
            yield found
    else:
        yield local_stack()


@pytest.fixture(scope="session")
def namespace() -> str:
    """A namespace of our own: tables, topics and indices never collide with `make run`'s."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def stack_env(endpoints: Endpoints, namespace: str) -> Iterator[dict[str, str]]:
    """Environment variables pointing services at the real parts, in our namespace."""
    env = {**endpoints.env(), "ALGOITNY_NAMESPACE": namespace}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def provisioned(stack_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Tables and topics of the test namespace; topics and indices are removed afterwards."""
    from algoitny_shared.provision import provision
    from algoitny_shared.settings import ServiceSettings

    settings = ServiceSettings(service_name="tests")
    result = provision(settings)
    yield result
    asyncio.run(_cleanup(settings))


async def _cleanup(settings: Any) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from opensearchpy import AsyncOpenSearch

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{settings.namespace}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    client = AsyncOpenSearch(hosts=[os.environ["ALGOITNY_OPENSEARCH_URL"]])
    try:
        await client.indices.delete(index=f"{settings.namespace}-*", ignore_unavailable=True)
    finally:
        await client.close()
    await asyncio.to_thread(_drop_tables_and_buckets, settings)


def _drop_tables_and_buckets(settings: Any) -> None:
    """moto keeps everything in memory: give back what this run created."""
    from algoitny_shared.buckets import all_buckets
    from algoitny_shared.dynamo import dynamodb, s3

    db = dynamodb(settings)
    for page in db.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if name.startswith(f"{settings.namespace}-"):
                db.delete_table(TableName=name)
    store = s3(settings)
    for spec in all_buckets():
        bucket = spec.physical(settings.namespace)
        try:
            for page in store.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    store.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            store.delete_bucket(Bucket=bucket)
        except store.exceptions.NoSuchBucket:
            pass
