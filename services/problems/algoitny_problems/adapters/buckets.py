"""The S3 bucket the problems service owns alone, declared once: provisioning, backup and the
infrastructure code find it through the ``algoitny.buckets`` entry point in the service's
pyproject.toml (algoitny_shared.buckets.all_buckets). The sandbox-run bucket it writes requests to
is the shared contract's (algoitny_shared.buckets.SANDBOX_IO).
"""

from __future__ import annotations

from algoitny_shared.buckets import BucketSpec

TEST_CASE_PAYLOADS = BucketSpec(
    owner="problems",
    name="testcases",
    description="Gzipped test-case payloads above the inline limit, "
    "keyed testcases/<platform>/<problem id>/<incarnation>/<version>/<ordinal>.json.gz.",
)

BUCKETS: tuple[BucketSpec, ...] = (TEST_CASE_PAYLOADS,)
