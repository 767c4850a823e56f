"""Create every table, bucket and topic of a namespace (idempotent): ``python -m algoitny_shared.provision``."""

from __future__ import annotations

import argparse
import asyncio
import json

from algoitny_shared.buckets import all_buckets, ensure_buckets
from algoitny_shared.dynamo import dynamodb, s3
from algoitny_shared.kafka import ensure_topics
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import all_tables, ensure_tables
from algoitny_shared.topics import all_topics


def provision(settings: ServiceSettings) -> dict[str, list[str]]:
    tables = ensure_tables(dynamodb(settings), settings.namespace, all_tables())
    buckets = ensure_buckets(s3(settings), settings.namespace, all_buckets())
    topics = asyncio.run(ensure_topics(settings, all_topics()))
    return {"tables_created": tables, "buckets_created": buckets, "topics_created": topics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespace", help="overrides ALGOITNY_NAMESPACE")
    args = parser.parse_args()
    overrides = {"namespace": args.namespace} if args.namespace else {}
    settings = ServiceSettings(service_name="provision", **overrides)
    print(json.dumps({"namespace": settings.namespace, **provision(settings)}))


if __name__ == "__main__":
    main()
