"""Test-case storage: items in DynamoDB, payloads over the inline limit gzipped in S3.

Writes go in BatchWriteItem chunks of at most 25 items (DynamoDB's limit, enforced here
because moto accepts more); reads of a whole set are one key-range Query (paged by
DynamoDB at 1 MB) with the S3 payloads fetched in parallel.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from algoitny_problems.adapters.keys import case_key, problem_key
from algoitny_problems.adapters.s3_objects import delete_prefix
from algoitny_problems.domain.models import MAX_ORDINAL, TestCaseIn, TestCaseOut
from algoitny_shared import batch_write
from algoitny_shared.aws import AsyncDynamoDB, AsyncS3, call
from algoitny_shared.dynamo import from_item, to_item

# A request path: 12 calls at most (the last retry waits about 1 s), jittered, then an error.
WRITE_RETRY = batch_write.Retry(attempts=12, first_delay_s=0.02, max_delay_s=1.0, jitter=True)
MAX_BATCH_GET = 100


class IntegrityError(RuntimeError):
    """A stored payload does not match its checksum."""


def payload_bytes(case: TestCaseIn) -> bytes:
    return json.dumps({"input": case.input, "output": case.output}, ensure_ascii=False).encode()


def inline_item(pk: str, version: int, ordinal: int, case: TestCaseIn) -> dict[str, Any]:
    return {
        "problem_key": pk,
        "case_key": case_key(version, ordinal),
        "ordinal": ordinal,
        "is_sample": case.is_sample,
        "stored": "inline",
        "size": case.size,
        "sha256": hashlib.sha256(payload_bytes(case)).hexdigest(),
        "input": case.input,
        "output": case.output,
    }


def version_bounds(version: int) -> tuple[str, str]:
    return f"{version:06d}#{1:06d}", f"{version:06d}#{MAX_ORDINAL:06d}"


@dataclass(frozen=True)
class SetLocation:
    """Where one incarnation of a problem keeps its test cases."""

    problem_key: str  # DynamoDB hash key
    s3_prefix: str  # testcases/<platform>/<problem id>/<incarnation>/

    def s3_key(self, version: int, ordinal: int) -> str:
        return f"{self.s3_prefix}{version:06d}/{ordinal:06d}.json.gz"

    def version_prefix(self, version: int) -> str:
        return f"{self.s3_prefix}{version:06d}/"


def location(platform: str, problem_id: str, incarnation: str) -> SetLocation:
    return SetLocation(
        problem_key(platform, problem_id, incarnation), f"testcases/{platform}/{problem_id}/{incarnation}/"
    )


class TestCaseStore:
    __test__ = False

    def __init__(
        self,
        dynamodb: Any,
        s3: Any,
        table: str,
        bucket: str,
        *,
        inline_max_bytes: int,
        concurrency: int = 8,
    ) -> None:
        self._db = AsyncDynamoDB(dynamodb)
        self._s3 = AsyncS3(s3)
        self.table = table
        self.bucket = bucket
        self.inline_max_bytes = inline_max_bytes
        self._concurrency = concurrency

    # ------------------------------------------------------------------ writing

    async def prepare_item(self, loc: SetLocation, version: int, ordinal: int, case: TestCaseIn) -> dict[str, Any]:
        """The item for one case; a payload over the inline limit is first put gzipped in S3."""
        if case.size <= self.inline_max_bytes:
            return inline_item(loc.problem_key, version, ordinal, case)
        raw = payload_bytes(case)
        compressed = gzip.compress(raw, compresslevel=6)
        key = loc.s3_key(version, ordinal)
        await self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=compressed,
            ContentType="application/json",
            ContentEncoding="gzip",
        )
        return {
            "problem_key": loc.problem_key,
            "case_key": case_key(version, ordinal),
            "ordinal": ordinal,
            "is_sample": case.is_sample,
            "stored": "s3",
            "size": case.size,
            "compressed_size": len(compressed),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "s3_key": key,
        }

    async def copy_item(self, loc: SetLocation, item: dict[str, Any], version: int, ordinal: int) -> dict[str, Any]:
        """An existing case (plain dict) re-keyed into another version; its S3 object is copied
        server-side so that each version owns its objects (GC deletes a version as a whole)."""
        new = {**item, "case_key": case_key(version, ordinal), "ordinal": ordinal}
        if item.get("stored") == "s3":
            key = loc.s3_key(version, ordinal)
            await self._s3.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": item["s3_key"]},
            )
            new["s3_key"] = key
        return new

    async def batch_put(self, items: list[dict[str, Any]]) -> None:
        """Write up to 25 items in one BatchWriteItem, retrying unprocessed ones."""
        await self._batch([{"PutRequest": {"Item": to_item(i)}} for i in items])

    async def _batch(self, requests: Sequence[batch_write.Request]) -> None:
        await batch_write.write(self._db, self.table, requests, WRITE_RETRY)

    async def batch_delete(self, keys: Iterable[dict[str, Any]]) -> int:
        requests = [
            {"DeleteRequest": {"Key": {"problem_key": {"S": k["problem_key"]}, "case_key": {"S": k["case_key"]}}}}
            for k in keys
        ]
        await self.gather(self._batch(c) for c in batch_write.chunks(requests))
        return len(requests)

    async def gather(self, coros: Iterable[Any]) -> list[Any]:
        """Run coroutines with bounded concurrency (boto3 calls each take a worker thread)."""
        semaphore = asyncio.Semaphore(self._concurrency)

        async def bounded(coro: Any) -> Any:
            async with semaphore:
                return await coro

        return list(await asyncio.gather(*(bounded(c) for c in coros)))

    # ------------------------------------------------------------------ reading

    async def query_version(
        self,
        loc: SetLocation,
        version: int,
        *,
        limit: int | None = None,
        after_ordinal: int = 0,
        keys_only: bool = False,
        upto_ordinal: int = MAX_ORDINAL,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Items of one version in ordinal order (one Query, paged by DynamoDB's 1 MB pages).
        Returns (items, more) where ``more`` says items remain after the last one returned."""
        low, high = case_key(version, max(1, after_ordinal + 1)), case_key(version, upto_ordinal)
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "problem_key = :pk AND case_key BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {
                    ":pk": {"S": loc.problem_key},
                    ":lo": {"S": low},
                    ":hi": {"S": high},
                },
                "ConsistentRead": True,
            }
            if keys_only:
                kwargs["ProjectionExpression"] = "problem_key, case_key, s3_key"
            if limit is not None:
                kwargs["Limit"] = limit - len(items) + 1  # one extra tells whether more remain
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = await self._db.query(**kwargs)
            items.extend(from_item(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start or (limit is not None and len(items) > limit):
                break
        if limit is not None and len(items) > limit:
            return items[:limit], True
        return items, False

    async def query_all_keys(self, loc: SetLocation) -> list[dict[str, Any]]:
        """Keys of every case of every version of one incarnation (for a purge)."""
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "problem_key = :pk",
                "ExpressionAttributeValues": {":pk": {"S": loc.problem_key}},
                "ProjectionExpression": "problem_key, case_key",
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = await self._db.query(**kwargs)
            items.extend(from_item(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                return items

    async def batch_get(self, loc: SetLocation, version: int, ordinals: list[int]) -> list[dict[str, Any]]:
        """AP-49: selected cases by ordinal (BatchGetItem, at most 100 keys)."""
        if len(ordinals) > MAX_BATCH_GET:
            raise ValueError(f"BatchGetItem takes at most {MAX_BATCH_GET} keys")
        keys = [{"problem_key": {"S": loc.problem_key}, "case_key": {"S": case_key(version, o)}} for o in ordinals]
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(10):
            resp = await self._db.batch_get_item(RequestItems=request)
            found.extend(from_item(i) for i in resp.get("Responses", {}).get(self.table, []))
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
            await asyncio.sleep(0.02 * 2**attempt)
        return sorted(found, key=lambda i: int(i["ordinal"]))

    async def materialise(self, items: list[dict[str, Any]]) -> list[TestCaseOut]:
        """Items -> cases, fetching S3 payloads in parallel and verifying their checksums."""

        async def one(item: dict[str, Any]) -> TestCaseOut:
            if item.get("stored") == "s3":
                resp = await self._s3.get_object(Bucket=self.bucket, Key=item["s3_key"])
                body = await call(resp["Body"].read)
                raw = gzip.decompress(body)
                if hashlib.sha256(raw).hexdigest() != item["sha256"]:
                    raise IntegrityError(f"checksum mismatch for {item['s3_key']}")
                payload = json.loads(raw)
                case_input, case_output = payload["input"], payload["output"]
            else:
                case_input, case_output = item["input"], item["output"]
            return TestCaseOut(
                ordinal=int(item["ordinal"]),
                input=case_input,
                output=case_output,
                is_sample=bool(item.get("is_sample")),
                size=int(item.get("size", 0)),
                stored="s3" if item.get("stored") == "s3" else "inline",
            )

        return await self.gather(one(i) for i in items)

    # ------------------------------------------------------------------ deleting

    async def delete_version(self, loc: SetLocation, version: int) -> int:
        """Every item and S3 object of one version of a set."""
        items, _ = await self.query_version(loc, version, keys_only=True)
        deleted = await self.batch_delete(items)
        await self.delete_objects(loc.version_prefix(version))
        return deleted

    async def delete_everything(self, loc: SetLocation) -> int:
        """Every item and S3 object of one incarnation (hard delete)."""
        deleted = await self.batch_delete(await self.query_all_keys(loc))
        await self.delete_objects(loc.s3_prefix)
        return deleted

    async def delete_objects(self, prefix: str) -> int:
        return await delete_prefix(self._s3, self.bucket, prefix)

    async def count_objects(self, prefix: str) -> int:
        resp = await self._s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return int(resp.get("KeyCount", 0))
