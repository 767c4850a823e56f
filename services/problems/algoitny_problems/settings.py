from __future__ import annotations

from pydantic import Field

from algoitny_shared.buckets import TEST_CASE_PAYLOADS
from algoitny_shared.settings import ServiceSettings


class ProblemsSettings(ServiceSettings):
    service_name: str = "problems"
    port: int = 8002
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Test-set uploads may carry cases of several MB each.",
    )
    testcases_bucket: str = Field(
        default="",
        description="S3 bucket of big test-case payloads; empty means the namespace's bucket from "
        "algoitny_shared.buckets (<namespace>-problems-testcases).",
    )
    inline_case_max_bytes: int = Field(
        default=100 * 1024,
        ge=1024,
        le=300 * 1024,
        description="Cases whose input+output exceed this go gzipped to S3 (an item holds at most 400 KB).",
    )
    test_set_write_concurrency: int = Field(default=8, ge=1, le=64)
    test_set_gc_grace_s: float = Field(
        default=300.0, ge=0, description="How long a superseded test set stays for readers that still hold it."
    )
    test_set_stale_upload_s: float = Field(
        default=900.0, ge=0, description="An upload not flipped within this time is presumed dead and collected."
    )
    gc_interval_s: float = Field(default=60.0, ge=0, description="Background GC period; 0 turns it off.")

    def bucket(self) -> str:
        return self.testcases_bucket or TEST_CASE_PAYLOADS.physical(self.namespace)
