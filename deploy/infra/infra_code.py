"""Infrastructure as code for AWS, generated from the platform's single definitions.

    python deploy/infra/infra_code.py write   # make infra-code
    python deploy/infra/infra_code.py check   # make infra-check (CI): fails when a file is stale

Writes, from every service's tables (``algoitny_<service>/adapters/tables.py``, collected by
``algoitny_shared.tables.all_tables``) and ``algoitny_shared.buckets`` / ``topics`` (nothing here
restates a key, index, TTL, bucket or topic):

* ``deploy/infra/algoitny.cfn.json``: CloudFormation: every DynamoDB table (keys, GSIs, TTL,
  point-in-time recovery, on-demand capacity, encryption, deletion protection), every S3 bucket
  (private, encrypted, lifecycle rules from the bucket's ``expire_days``), the MSK cluster with its
  broker configuration, the OpenSearch domain. Sizing is ``SIZING`` below (docs/capacity.md).
* ``deploy/infra/kafka-topics.tf.json``: Terraform JSON for the topics (CloudFormation has no
  Kafka topic resource): partitions from each ``TopicSpec.partitions``, its config (retention,
  cleanup policy), replication 3 and ``min.insync.replicas`` 2 (the producers use ``acks=all``).

Physical names follow the code: tables ``<ns>-<owner>-<name>``, buckets ``<ns>-<owner>-<name>``,
topics ``<ns>.<name>`` (``Namespace`` parameter / ``namespace`` variable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from algoitny_shared.buckets import BucketSpec, all_buckets
from algoitny_shared.tables import TableSpec, all_tables
from algoitny_shared.topics import TopicSpec, all_topics

HERE = Path(__file__).resolve().parent
CFN_FILE = HERE / "algoitny.cfn.json"
TOPICS_FILE = HERE / "kafka-topics.tf.json"

# Sized for 10x today's load (about 10,000 requests/s): see docs/capacity.md for the derivation.
SIZING: dict[str, Any] = {
    "kafka": {
        "version": "3.9.x",
        "brokers": 3,  # one per availability zone
        "instance": "kafka.m7g.large",
        "volume_gb": 1000,
        "replication_factor": 3,
        "min_insync_replicas": 2,
    },
    "opensearch": {
        "version": "OpenSearch_2.19",
        "data_nodes": 3,
        "data_instance": "r7g.large.search",
        "volume_gb": 100,
        "master_nodes": 3,
        "master_instance": "m7g.large.search",
    },
}


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (alphanumeric) from name parts: ``search-indexer`` -> ``SearchIndexer``."""
    out = []
    for part in parts:
        for word in part.replace("-", " ").replace("_", " ").replace(".", " ").split():
            out.append(word[:1].upper() + word[1:])
    return "".join(out)


def table_resource(spec: TableSpec) -> dict[str, Any]:
    """The CloudFormation table: the create request provisioning sends, plus what an operator needs
    on AWS (TTL, PITR, encryption, deletion protection) that the local provisioning leaves out."""
    request = spec.create_request("NS")
    props: dict[str, Any] = {
        "TableName": {"Fn::Sub": f"${{Namespace}}-{spec.owner}-{spec.name}"},
        "KeySchema": request["KeySchema"],
        "AttributeDefinitions": request["AttributeDefinitions"],
        "BillingMode": request["BillingMode"],
    }
    if "GlobalSecondaryIndexes" in request:
        props["GlobalSecondaryIndexes"] = request["GlobalSecondaryIndexes"]
    if "StreamSpecification" in request:
        props["StreamSpecification"] = {"StreamViewType": request["StreamSpecification"]["StreamViewType"]}
    if spec.ttl_attribute:
        props["TimeToLiveSpecification"] = {"AttributeName": spec.ttl_attribute, "Enabled": True}
    props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    props["SSESpecification"] = {"SSEEnabled": True}
    props["DeletionProtectionEnabled"] = True
    props["Tags"] = [{"Key": "algoitny:owner", "Value": spec.owner}]
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": props,
    }


def bucket_resource(spec: BucketSpec) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "Id": "abort-incomplete-uploads",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {"Id": "old-versions", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    ]
    for prefix, days in sorted(spec.expire_days.items()):
        rules.append(
            {
                "Id": f"expire-{prefix.strip('/').replace('/', '-')}",
                "Status": "Enabled",
                "Prefix": prefix,
                "ExpirationInDays": days,
            }
        )
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            # Same rule as BucketSpec.physical (lower case); the namespace parameter is lower case.
            "BucketName": {"Fn::Sub": "${Namespace}-" + f"{spec.owner}-{spec.name}".lower()},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": rules},
            "Tags": [{"Key": "algoitny:owner", "Value": spec.owner}],
        },
    }


def kafka_server_properties() -> str:
    k = SIZING["kafka"]
    lines = [
        "auto.create.topics.enable=false",  # topics come from kafka-topics.tf.json (and provision)
        f"default.replication.factor={k['replication_factor']}",
        f"min.insync.replicas={k['min_insync_replicas']}",
        "unclean.leader.election.enable=false",
        "offsets.retention.minutes=20160",
    ]
    return "\n".join(lines) + "\n"


def msk_resources() -> dict[str, Any]:
    k = SIZING["kafka"]
    return {
        "KafkaConfiguration": {
            "Type": "AWS::MSK::Configuration",
            "Properties": {
                "Name": {"Fn::Sub": "${Namespace}-kafka"},
                "KafkaVersionsList": [k["version"]],
                "ServerProperties": kafka_server_properties(),
            },
        },
        "KafkaCluster": {
            "Type": "AWS::MSK::Cluster",
            "Properties": {
                "ClusterName": {"Fn::Sub": "${Namespace}-kafka"},
                "KafkaVersion": k["version"],
                "NumberOfBrokerNodes": k["brokers"],
                "BrokerNodeGroupInfo": {
                    "InstanceType": k["instance"],
                    "ClientSubnets": {"Ref": "PrivateSubnets"},
                    "SecurityGroups": [{"Ref": "KafkaSecurityGroup"}],
                    "StorageInfo": {"EBSStorageInfo": {"VolumeSize": k["volume_gb"]}},
                },
                "ConfigurationInfo": {
                    "Arn": {"Fn::GetAtt": ["KafkaConfiguration", "Arn"]},
                    "Revision": {"Fn::GetAtt": ["KafkaConfiguration", "LatestRevision.Revision"]},
                },
                # The services' Kafka client speaks plaintext today (no TLS/SASL settings in
                # algoitny_shared.kafka): brokers accept it beside TLS, reachable from the cluster's
                # security group only (docs/kubernetes.md). Between brokers, TLS.
                "EncryptionInfo": {"EncryptionInTransit": {"ClientBroker": "TLS_PLAINTEXT", "InCluster": True}},
                "ClientAuthentication": {"Unauthenticated": {"Enabled": True}},
                "EnhancedMonitoring": "PER_TOPIC_PER_PARTITION",
                "StorageMode": "TIERED",
            },
        },
    }


def opensearch_resource() -> dict[str, Any]:
    o = SIZING["opensearch"]
    return {
        "Type": "AWS::OpenSearchService::Domain",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "DomainName": {"Fn::Sub": "${Namespace}-search"},
            "EngineVersion": o["version"],
            "ClusterConfig": {
                "InstanceType": o["data_instance"],
                "InstanceCount": o["data_nodes"],
                "DedicatedMasterEnabled": True,
                "DedicatedMasterType": o["master_instance"],
                "DedicatedMasterCount": o["master_nodes"],
                "ZoneAwarenessEnabled": True,
                "ZoneAwarenessConfig": {"AvailabilityZoneCount": 3},
            },
            "EBSOptions": {"EBSEnabled": True, "VolumeType": "gp3", "VolumeSize": o["volume_gb"]},
            "EncryptionAtRestOptions": {"Enabled": True},
            "NodeToNodeEncryptionOptions": {"Enabled": True},
            "DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"},
            "VPCOptions": {
                "SubnetIds": {"Ref": "PrivateSubnets"},
                "SecurityGroupIds": [{"Ref": "SearchSecurityGroup"}],
            },
        },
    }


def cloudformation() -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for table in all_tables():
        resources[logical_id(table.owner, table.name, "table")] = table_resource(table)
    for bucket in all_buckets():
        resources[logical_id(bucket.owner, bucket.name, "bucket")] = bucket_resource(bucket)
    resources.update(msk_resources())
    resources["SearchDomain"] = opensearch_resource()
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "AlgoItny data plane, generated by deploy/infra/infra_code.py from algoitny_shared "
        "(tables, buckets, topics): do not edit by hand, run make infra-code.",
        "Parameters": {
            "Namespace": {
                "Type": "String",
                "Default": "algoitny",
                "AllowedPattern": "^[a-z][a-z0-9-]{0,30}$",
                "Description": "ALGOITNY_NAMESPACE of the services: prefix of every table, bucket and topic.",
            },
            "PrivateSubnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "Three subnets, one per AZ."},
            "KafkaSecurityGroup": {"Type": "AWS::EC2::SecurityGroup::Id"},
            "SearchSecurityGroup": {"Type": "AWS::EC2::SecurityGroup::Id"},
        },
        "Resources": resources,
        "Outputs": {
            "KafkaClusterArn": {"Value": {"Ref": "KafkaCluster"}},
            "SearchEndpoint": {"Value": {"Fn::GetAtt": ["SearchDomain", "DomainEndpoint"]}},
        },
    }


# Topics kept forever (the domain topics, replayed to rebuild projections) move closed segments to
# MSK tiered storage after a week: brokers' disks hold the hot week only (docs/capacity.md).
TIERED = {"remote.storage.enable": "true", "local.retention.ms": str(7 * 24 * 3600 * 1000)}


def topic_resource(spec: TopicSpec) -> dict[str, Any]:
    k = SIZING["kafka"]
    config = {**spec.config, "min.insync.replicas": str(k["min_insync_replicas"])}
    if spec.config.get("retention.ms") == "-1":
        config.update(TIERED)
    return {
        "name": f"${{var.namespace}}.{spec.name}",
        "partitions": spec.partitions,
        "replication_factor": k["replication_factor"],
        "config": dict(sorted(config.items())),
    }


def terraform_topics() -> dict[str, Any]:
    return {
        "//": "Generated by deploy/infra/infra_code.py from algoitny_shared.topics: do not edit, run make infra-code.",
        "terraform": {"required_providers": {"kafka": {"source": "Mongey/kafka", "version": "~> 0.8"}}},
        "variable": {
            "namespace": {"type": "string", "default": "algoitny"},
            "bootstrap_servers": {"type": "list(string)"},
        },
        "provider": {"kafka": {"bootstrap_servers": "${var.bootstrap_servers}", "tls_enabled": True}},
        "resource": {
            "kafka_topic": {spec.name.replace(".", "_"): topic_resource(spec) for spec in all_topics()},
        },
    }


def rendered() -> dict[Path, str]:
    return {
        CFN_FILE: json.dumps(cloudformation(), indent=2) + "\n",
        TOPICS_FILE: json.dumps(terraform_topics(), indent=2) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.command == "write":
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parents[1])}")
        else:
            stale.append(str(path.relative_to(HERE.parents[1])))
    if stale:
        print(f"out of date with algoitny_shared (run make infra-code): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
