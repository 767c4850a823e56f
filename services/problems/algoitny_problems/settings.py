from __future__ import annotations

from pydantic import Field, model_validator

from algoitny_problems.adapters.buckets import TEST_CASE_PAYLOADS
from algoitny_shared.buckets import SANDBOX_IO
from algoitny_shared.llm import LlmSettings
from algoitny_shared.settings import DEVELOPMENT_ENVIRONMENTS


class ProblemsSettings(LlmSettings):
    """Gemini settings (gemini_*, shared LlmSettings) are used to author test generators; empty key = no LLM."""

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

    generation_jobs_per_process: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Jobs one generation process (python -m algoitny_problems.generation) works on at once; a job "
        "waiting for the sandbox costs it nothing.",
    )
    generation_max_cases: int = Field(default=2000, ge=1, le=10_000, description="Cap on the cases of one job.")
    generation_batch_size: int = Field(default=50, ge=1, le=500, description="Cases per sandbox run and progress step.")
    generation_batch_max_mb: int = Field(
        default=128,
        ge=8,
        le=4096,
        description="Memory a batch may hold at worst (every input at the input cap, every reference output at "
        "twice that): batches shrink to fit (with the 4 MB input cap: 10 cases).",
    )
    generation_lease_s: float = Field(default=30.0, ge=1, description="A worker's lease; heartbeats every third of it.")
    generation_poll_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="How often an idle generation worker sweeps for claimable jobs: events wake it at once, the sweep "
        "only catches jobs whose event it missed or whose worker died (lease expired).",
    )
    generation_max_attempts: int = Field(default=3, ge=1, le=20, description="Claims before a job fails for good.")
    generation_time_limit_ms: int = Field(default=2000, ge=100, le=15_000, description="A generator run's time limit.")
    generation_memory_limit_mb: int = Field(default=256, ge=16, le=1024)
    generation_max_input_kb: int = Field(default=4096, ge=1, le=65_536, description="Output cap of one generator run.")
    generation_sandbox_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a sandbox run may wait for a judge to start it (then it is dropped unrun); the worker "
        "waits that plus the run's worst case before retrying the job.",
    )
    generation_sse_max_s: float = Field(default=600.0, gt=0, description="Longest a job's events stream stays open")
    ratelimit_url: str = Field(
        default="http://127.0.0.1:8004", description="Ratelimit service: a registrar's plan cap on registered problems."
    )
    sandbox_bucket_name: str = Field(
        default="", description="Sandbox-run bucket (executions'); empty means <namespace>-executions-sandbox."
    )

    import_hosts: dict[str, str] = Field(
        default={"codeforces.com": "codeforces", "acmicpc.net": "baekjoon", "atcoder.jp": "atcoder"},
        description="Hosts whose problem pages may be imported (without www.), each with the platform its problems "
        "get. Known platforms are read by their own parser; any other host needs Gemini (offline: refused).",
    )
    import_origin_overrides: dict[str, str] = Field(
        default={},
        description="Tests only: fetch a host's pages from another origin (host -> http://127.0.0.1:port/prefix). "
        "Refused outside development and test environments.",
    )
    import_max_page_bytes: int = Field(default=2 * 1024 * 1024, ge=16 * 1024, le=16 * 1024 * 1024)
    import_timeout_s: float = Field(default=10.0, gt=0, le=60, description="The whole fetch, redirects included.")
    import_max_active_per_user: int = Field(default=3, ge=1, le=50, description="Unfinished imports per registrar.")

    @model_validator(mode="after")
    def _overrides_only_in_development(self) -> ProblemsSettings:
        if self.import_origin_overrides and self.environment not in DEVELOPMENT_ENVIRONMENTS:
            raise ValueError("import_origin_overrides is for tests; it is refused in " + repr(self.environment))
        return self

    def sandbox_bucket(self) -> str:
        return self.sandbox_bucket_name or SANDBOX_IO.physical(self.namespace)

    def bucket(self) -> str:
        return self.testcases_bucket or TEST_CASE_PAYLOADS.physical(self.namespace)
