"""Deleting every S3 object under a prefix (test-set objects, generation jobs' sandbox objects)."""

from __future__ import annotations

from typing import Any

from algoitny_shared.aws import AsyncS3

MAX_S3_DELETE = 1000  # DeleteObjects takes at most 1,000 keys, ListObjectsV2 returns as many


async def delete_prefix(s3: AsyncS3, bucket: str, prefix: str) -> int:
    """Delete every object whose key starts with ``prefix``, a page at a time; returns how many."""
    deleted = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": MAX_S3_DELETE}
        if token:
            kwargs["ContinuationToken"] = token
        resp = await s3.list_objects_v2(**kwargs)
        keys = [o["Key"] for o in resp.get("Contents", [])]
        if keys:
            await s3.delete_keys(bucket, keys)
            deleted += len(keys)
        if not resp.get("IsTruncated"):
            return deleted
        token = resp.get("NextContinuationToken")
