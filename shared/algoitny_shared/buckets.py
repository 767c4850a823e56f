"""S3 buckets: the spec type, creation, the sandbox-run bucket two services share (the published
contract of sandbox runs), and the registry of every bucket. A bucket only one service uses is
declared in that service and published through the ``algoitny.buckets`` entry point of its
``pyproject.toml`` (like tables.py's ``algoitny.tables``). Physical names carry the namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any


@dataclass(frozen=True)
class BucketSpec:
    owner: str
    name: str
    description: str = ""
    expire_days: dict[str, int] = field(default_factory=dict)
    """Lifecycle: objects under each key prefix expire this many days after they were written
    (the infrastructure code's lifecycle rules, deploy/infra)."""
    backed_up: bool = True
    """Whether ``make backup`` copies its objects (transient bulk data is not backed up)."""

    def physical(self, namespace: str) -> str:
        # S3 names: 3-63 lowercase letters, digits and hyphens.
        return f"{namespace}-{self.owner}-{self.name}".lower()[:63]


SANDBOX_IO = BucketSpec(
    owner="executions",
    name="sandbox",
    description="Bulk data of sandbox runs (executions.SandboxRunRequested/Completed carry references only): "
    "requests/<run id>.json.gz (program and inputs, put by the requester) and results/<run id>.json.gz "
    "(outputs and verdicts, put by the judge worker).",
    # A run's objects are read once, when its completion event is handled; a week covers a consumer
    # that was down or a dead letter being replayed.
    expire_days={"requests/": 7, "results/": 7},
    # Bulk data of finished sandbox runs is transient (read once by the requester).
    backed_up=False,
)

BUCKETS_ENTRY_POINTS = "algoitny.buckets"
"""Entry-point group of the buckets a service owns alone: name = owner, value
``algoitny_<service>.adapters.buckets:BUCKETS``."""


@cache
def all_buckets() -> tuple[BucketSpec, ...]:
    """Every bucket: each installed service's own (by owner, as declared), then the shared ones."""
    found: list[BucketSpec] = []
    for entry in sorted(entry_points(group=BUCKETS_ENTRY_POINTS), key=lambda e: e.name):
        for spec in entry.load():
            if not isinstance(spec, BucketSpec) or spec.owner != entry.name:
                raise ValueError(f"{entry.value} declares {spec!r}, not a bucket owned by {entry.name}")
            found.append(spec)
    found.append(SANDBOX_IO)
    names = [spec.physical("ns") for spec in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"buckets declared twice: {', '.join(duplicates)}")
    return tuple(found)


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
