"""Backup's file format pieces: DynamoDB JSON with binary values, the directory store's bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoitny_shared.backup import DirStore, _decode, _encode


def test_binary_values_travel_as_base64_and_come_back_as_bytes() -> None:
    item = {"pk": {"S": "a"}, "code_z": {"B": b"\x00\xffz"}, "set": {"BS": [b"\x01", b"\x02"]}, "n": {"N": "5"}}
    line = json.dumps({"Item": _encode(item)})
    assert "AP96" in line  # base64 of 00 ff 7a
    assert _decode(json.loads(line)["Item"]) == item


def test_the_directory_store_never_writes_outside_its_directory(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "backup")
    store.write("buckets/problems-testcases/testcases/a/1.json.gz", b"x")
    assert store.names("buckets/") == ["buckets/problems-testcases/testcases/a/1.json.gz"]
    with pytest.raises(ValueError):
        store.write("buckets/problems-testcases/../../../escaped", b"x")
    assert not (tmp_path / "escaped").exists()


def test_an_s3_prefix_holds_a_backup_like_a_directory() -> None:
    import boto3
    from moto import mock_aws

    from algoitny_shared.backup import S3Store

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="backups")
        store = S3Store(client, "backups", "/algoitny/2026-12-06/")
        store.write("manifest.json", b"{}")
        store.write("buckets/problems-testcases/testcases/a/1.json.gz", b"x")
        assert store.read("manifest.json") == b"{}"
        assert store.names("buckets/") == ["buckets/problems-testcases/testcases/a/1.json.gz"]
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="backups")["Contents"]]
        assert sorted(keys) == [
            "algoitny/2026-12-06/buckets/problems-testcases/testcases/a/1.json.gz",
            "algoitny/2026-12-06/manifest.json",
        ]
