"""The one async access layer for AWS calls (DynamoDB, S3): every boto3 call of every service
runs on a thread pool of its own, sized to the boto3 clients' connection pool.

Why not ``asyncio.to_thread``: the loop's default executor has ``min(32, cores + 4)`` threads
(6 on 2 cores) and is shared with every other blocking call (password hashing, Google token
checks). With 50 requests in flight, DynamoDB calls queued for one of those 6 threads while
boto3 kept 32 connections idle, so the problem path (three calls in sequence) climbed to 3.5x
its bare DynamoDB latency. Here the pool has as many threads as the client has connections
(``MAX_POOL_CONNECTIONS``, also given to botocore's ``Config``), and nothing else runs on it.
aiobotocore was the other candidate; a sized executor keeps boto3's clients, their event
hooks (the capacity recorder) and moto's server mode as they are.

``AsyncDynamoDB`` and ``AsyncS3`` wrap a boto3 client with typed coroutines (mypy-boto3); the
raw client stays at ``.client`` for what is not a call (``exceptions``, ``meta``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        BatchGetItemInputTypeDef,
        BatchGetItemOutputTypeDef,
        BatchWriteItemOutputTypeDef,
        DeleteItemInputTypeDef,
        DeleteItemOutputTypeDef,
        DescribeTableInputTypeDef,
        DescribeTableOutputTypeDef,
        GetItemInputTypeDef,
        GetItemOutputTypeDef,
        PutItemInputTypeDef,
        PutItemOutputTypeDef,
        QueryInputTypeDef,
        QueryOutputTypeDef,
        ScanInputTypeDef,
        ScanOutputTypeDef,
        TransactGetItemsInputTypeDef,
        TransactGetItemsOutputTypeDef,
        TransactWriteItemsOutputTypeDef,
        UpdateItemInputTypeDef,
        UpdateItemOutputTypeDef,
    )
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import (
        CopyObjectOutputTypeDef,
        CopyObjectRequestTypeDef,
        DeleteObjectOutputTypeDef,
        DeleteObjectRequestTypeDef,
        DeleteObjectsOutputTypeDef,
        GetObjectOutputTypeDef,
        GetObjectRequestTypeDef,
        HeadBucketOutputTypeDef,
        HeadBucketRequestTypeDef,
        HeadObjectOutputTypeDef,
        HeadObjectRequestTypeDef,
        ListObjectsV2OutputTypeDef,
        ListObjectsV2RequestTypeDef,
        ObjectIdentifierTypeDef,
        PutObjectOutputTypeDef,
        PutObjectRequestTypeDef,
    )

T = TypeVar("T")

# boto3's connections per client (botocore Config) and the threads that use them: one number.
MAX_POOL_CONNECTIONS = 32

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def executor() -> ThreadPoolExecutor:
    """The process's AWS thread pool (created on first use; a forked child makes its own)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=MAX_POOL_CONNECTIONS, thread_name_prefix="aws")
            _pool_pid = os.getpid()
        return _pool


async def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking boto3 call on the AWS pool, in the caller's context (request ids, the
    capacity recorder's call label), as ``asyncio.to_thread`` would."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(executor(), functools.partial(ctx.run, fn, *args, **kwargs))


class AsyncDynamoDB:
    """Typed coroutines over a boto3 DynamoDB client; ``exceptions`` as the client's."""

    def __init__(self, client: DynamoDBClient | AsyncDynamoDB) -> None:
        self.client: DynamoDBClient = client.client if isinstance(client, AsyncDynamoDB) else client

    @property
    def exceptions(self) -> Any:
        return self.client.exceptions

    async def get_item(self, **kw: Unpack[GetItemInputTypeDef]) -> GetItemOutputTypeDef:
        return await call(self.client.get_item, **kw)

    async def put_item(self, **kw: Unpack[PutItemInputTypeDef]) -> PutItemOutputTypeDef:
        return await call(self.client.put_item, **kw)

    async def update_item(self, **kw: Unpack[UpdateItemInputTypeDef]) -> UpdateItemOutputTypeDef:
        return await call(self.client.update_item, **kw)

    async def delete_item(self, **kw: Unpack[DeleteItemInputTypeDef]) -> DeleteItemOutputTypeDef:
        return await call(self.client.delete_item, **kw)

    async def query(self, **kw: Unpack[QueryInputTypeDef]) -> QueryOutputTypeDef:
        return await call(self.client.query, **kw)

    async def scan(self, **kw: Unpack[ScanInputTypeDef]) -> ScanOutputTypeDef:
        return await call(self.client.scan, **kw)

    async def batch_get_item(self, **kw: Unpack[BatchGetItemInputTypeDef]) -> BatchGetItemOutputTypeDef:
        return await call(self.client.batch_get_item, **kw)

    async def batch_write_item(
        self, *, RequestItems: Mapping[str, Sequence[Mapping[str, Any]]], **kw: Any
    ) -> BatchWriteItemOutputTypeDef:
        # Requests are built as plain dicts (algoitny_shared.dynamo.to_item): typed loosely here.
        return await call(self.client.batch_write_item, RequestItems=RequestItems, **kw)

    async def transact_get_items(self, **kw: Unpack[TransactGetItemsInputTypeDef]) -> TransactGetItemsOutputTypeDef:
        return await call(self.client.transact_get_items, **kw)

    async def transact_write_items(
        self, *, TransactItems: Sequence[Mapping[str, Any]], **kw: Any
    ) -> TransactWriteItemsOutputTypeDef:
        # Items are built as plain dicts by every repository (Put/Update/ConditionCheck): typed loosely.
        return await call(self.client.transact_write_items, TransactItems=TransactItems, **kw)

    async def describe_table(self, **kw: Unpack[DescribeTableInputTypeDef]) -> DescribeTableOutputTypeDef:
        return await call(self.client.describe_table, **kw)


class AsyncS3:
    """Typed coroutines over a boto3 S3 client; ``read`` drains a streamed body on the pool."""

    def __init__(self, client: S3Client | AsyncS3) -> None:
        self.client: S3Client = client.client if isinstance(client, AsyncS3) else client

    @property
    def exceptions(self) -> Any:
        return self.client.exceptions

    async def get_object(self, **kw: Unpack[GetObjectRequestTypeDef]) -> GetObjectOutputTypeDef:
        return await call(self.client.get_object, **kw)

    async def get_bytes(self, **kw: Unpack[GetObjectRequestTypeDef]) -> bytes:
        """The object's whole body (the request and the read, both on the pool)."""

        def fetch() -> bytes:
            body: bytes = self.client.get_object(**kw)["Body"].read()
            return body

        return await call(fetch)

    async def put_object(self, **kw: Unpack[PutObjectRequestTypeDef]) -> PutObjectOutputTypeDef:
        return await call(self.client.put_object, **kw)

    async def head_object(self, **kw: Unpack[HeadObjectRequestTypeDef]) -> HeadObjectOutputTypeDef:
        return await call(self.client.head_object, **kw)

    async def head_bucket(self, **kw: Unpack[HeadBucketRequestTypeDef]) -> HeadBucketOutputTypeDef:
        return await call(self.client.head_bucket, **kw)

    async def copy_object(self, **kw: Unpack[CopyObjectRequestTypeDef]) -> CopyObjectOutputTypeDef:
        return await call(self.client.copy_object, **kw)

    async def delete_object(self, **kw: Unpack[DeleteObjectRequestTypeDef]) -> DeleteObjectOutputTypeDef:
        return await call(self.client.delete_object, **kw)

    async def delete_keys(self, bucket: str, keys: Sequence[str]) -> DeleteObjectsOutputTypeDef:
        """DeleteObjects for up to 1,000 keys, quietly."""
        objects: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in keys]
        return await call(self.client.delete_objects, Bucket=bucket, Delete={"Objects": objects, "Quiet": True})

    async def list_objects_v2(self, **kw: Unpack[ListObjectsV2RequestTypeDef]) -> ListObjectsV2OutputTypeDef:
        return await call(self.client.list_objects_v2, **kw)
