"""The generated infrastructure code (deploy/infra) matches the single definitions in algoitny_shared.

* the checked-in files are what ``make infra-code`` writes now (stale files fail);
* the template's DynamoDB tables, created on moto through CloudFormation, describe exactly like the
  tables ``python -m algoitny_shared.provision`` creates (keys, attributes, GSIs and their
  projections, billing, streams), and TTL and PITR are declared for each;
* buckets carry the declared lifecycle, topics the declared partitions and configuration;
(cfn-lint checks the template against AWS's resource specifications in make infra-check.)
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from algoitny_shared.buckets import all_buckets
from algoitny_shared.tables import all_tables, ensure_tables
from algoitny_shared.topics import all_topics

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("infra_code", REPO / "deploy" / "infra" / "infra_code.py")
assert SPEC and SPEC.loader
infra_code = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(infra_code)


def test_checked_in_files_are_current() -> None:
    for path, text in infra_code.rendered().items():
        assert path.read_text() == text, f"{path.name} is stale: run make infra-code"


def _describe(client: Any, name: str) -> dict[str, Any]:
    table = client.describe_table(TableName=name)["Table"]
    gsis = sorted(
        (
            {
                "IndexName": g["IndexName"],
                "KeySchema": g["KeySchema"],
                "Projection": {
                    "ProjectionType": g["Projection"]["ProjectionType"],
                    "NonKeyAttributes": sorted(g["Projection"].get("NonKeyAttributes", [])),
                },
            }
            for g in table.get("GlobalSecondaryIndexes", [])
        ),
        key=lambda g: g["IndexName"],
    )
    return {
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "GlobalSecondaryIndexes": gsis,
        "BillingMode": table.get("BillingModeSummary", {}).get("BillingMode"),
        "Stream": table.get("StreamSpecification", {}).get("StreamViewType"),
    }


def test_template_tables_on_moto_equal_provisioned_tables() -> None:
    template = infra_code.cloudformation()
    tables_only = {
        "AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
        "Parameters": {"Namespace": template["Parameters"]["Namespace"]},
        "Resources": {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"},
    }
    assert len(tables_only["Resources"]) == len(all_tables())
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        ensure_tables(client, "prov", all_tables())
        cfn = boto3.client("cloudformation", region_name="us-east-1")
        cfn.create_stack(
            StackName="infra",
            TemplateBody=json.dumps(tables_only),
            Parameters=[{"ParameterKey": "Namespace", "ParameterValue": "cfn"}],
        )
        assert cfn.describe_stacks(StackName="infra")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        for spec in all_tables():
            provisioned = _describe(client, spec.physical("prov"))
            generated = _describe(client, spec.physical("cfn"))
            assert generated == provisioned, spec.physical("")
            ttl = client.describe_time_to_live(TableName=spec.physical("prov"))["TimeToLiveDescription"]
            props = template["Resources"][infra_code.logical_id(spec.owner, spec.name, "table")]["Properties"]
            if spec.ttl_attribute:
                assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
                assert props["TimeToLiveSpecification"]["Enabled"] is True
            else:
                assert "TimeToLiveSpecification" not in props
            assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
            assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_template_buckets_on_moto_have_the_declared_names() -> None:
    template = infra_code.cloudformation()
    buckets_only = {
        "AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
        "Parameters": {"Namespace": template["Parameters"]["Namespace"]},
        "Resources": {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::S3::Bucket"},
    }
    with mock_aws():
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="buckets",
            TemplateBody=json.dumps(buckets_only),
            Parameters=[{"ParameterKey": "Namespace", "ParameterValue": "cfn"}],
        )
        names = {b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]}
    assert names == {b.physical("cfn") for b in all_buckets()}


def test_buckets_and_topics_follow_their_declarations() -> None:
    resources = infra_code.cloudformation()["Resources"]
    for bucket in all_buckets():
        props = resources[infra_code.logical_id(bucket.owner, bucket.name, "bucket")]["Properties"]
        rules = {r["Prefix"]: r["ExpirationInDays"] for r in props["LifecycleConfiguration"]["Rules"] if "Prefix" in r}
        assert rules == bucket.expire_days
        assert all(props["PublicAccessBlockConfiguration"].values())
    topics = infra_code.terraform_topics()["resource"]["kafka_topic"]
    assert len(topics) == len(all_topics())
    for spec in all_topics():
        topic = topics[spec.name.replace(".", "_")]
        assert topic["name"] == f"${{var.namespace}}.{spec.name}"
        assert topic["partitions"] == spec.partitions
        assert {k: v for k, v in topic["config"].items() if k in spec.config} == spec.config
        assert topic["replication_factor"] > int(topic["config"]["min.insync.replicas"]) >= 2


def test_empty_aws_keys_mean_the_default_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubernetes pods take their IAM role (deploy/k8s: empty ALGOITNY_AWS_* keys), never a literal key."""
    from algoitny_shared.dynamo import _client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-role")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "role-secret")
    creds = _client("dynamodb", None, "us-east-1", "", "")._request_signer._credentials
    assert creds.access_key == "from-the-role"
    explicit = _client("dynamodb", "http://127.0.0.1:5005", "us-east-1", "local", "local")._request_signer._credentials
    assert explicit.access_key == "local"
