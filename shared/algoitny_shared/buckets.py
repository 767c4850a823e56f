"""S3 buckets of every service, declared once (like tables.py): physical names carry the namespace."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BucketSpec:
    owner: str
    name: str
    description: str = ""
    expire_days: dict[str, int] = field(default_factory=dict)
    """Lifecycle: objects under each key prefix expire this many days after they were written
    (the infrastructure code's lifecycle rules, deploy/infra)."""

    def physical(self, namespace: str) -> str:
        # S3 names: 3-63 lowercase letters, digits and hyphens.
        return f"{namespace}-{self.owner}-{self.name}".lower()[:63]


TEST_CASE_PAYLOADS = BucketSpec(
    owner="problems",
    name="testcases",
    description="Gzipped test-case payloads above the inline limit, "
    "keyed testcases/<platform>/<problem id>/<incarnation>/<version>/<ordinal>.json.gz.",
)

SANDBOX_IO = BucketSpec(
    owner="executions",
    name="sandbox",
    description="Bulk data of sandbox runs (executions.SandboxRunRequested/Completed carry references only): "
    "requests/<run id>.json.gz (program and inputs, put by the requester) and results/<run id>.json.gz "
    "(outputs and verdicts, put by the judge worker).",
    # A run's objects are read once, when its completion event is handled; a week covers a consumer
    # that was down or a dead letter being replayed.
    expire_days={"requests/": 7, "results/": 7},
)

ALL_BUCKETS: tuple[BucketSpec, ...] = (TEST_CASE_PAYLOADS, SANDBOX_IO)


def ensure_buckets(client: Any, namespace: str, specs: Iterable[BucketSpec]) -> list[str]:
    """Create the buckets that do not exist yet (idempotent); returns the ones created."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    created = []
    for spec in specs:
        name = spec.physical(namespace)
        if name in existing:
            continue
        try:
            client.create_bucket(Bucket=name)
        except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            continue
        created.append(name)
    return created
