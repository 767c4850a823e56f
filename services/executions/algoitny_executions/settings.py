from __future__ import annotations

from pydantic import Field

from algoitny_shared.buckets import SANDBOX_IO
from algoitny_shared.settings import ServiceSettings


class ExecutionsSettings(ServiceSettings):
    service_name: str = "executions"
    port: int = 8003
    problems_url: str = Field(default="http://127.0.0.1:8002", description="Problems service (details, test sets)")
    accounts_url: str = Field(default="http://127.0.0.1:8001", description="Accounts service (display names)")
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    worker_enabled: bool = Field(
        default=True,
        description="Run a judge worker (member of the judge-workers consumer group) in this process; "
        "false for API-only replicas. Runs (POST /runs) need the judge too.",
    )
    judge_enabled: bool = Field(default=True, description="Start the sandboxed judge (workers and /runs need it)")
    attach_hints_enabled: bool = Field(
        default=True,
        description="Join the executions consumer group (hints.events -> history items) when consumers are on; "
        "false keeps dedicated judge workers out of it, so they scale on their own topic only (deploy/k8s).",
    )
    judge_slots: int = Field(default=2, ge=1, le=64, description="Concurrent sandboxes (one uid and cgroup each)")
    judge_queue: int = Field(
        default=4,
        ge=0,
        le=1000,
        description="Custom runs (POST /runs) that may wait for a busy judge; beyond them a run is "
        "answered 503 with Retry-After at once",
    )
    judge_uid_base: int = Field(default=60000, ge=1000, description="Slot n runs as uid judge_uid_base + n")
    judge_work_root: str = Field(
        default="/var/tmp/algoitny-judge", description="Boxes and caches go under <root>/<namespace>"
    )
    judge_use_cgroups: bool = True
    judge_compile_time_limit_ms: int | None = Field(default=None, ge=1000, le=60_000)
    progress_interval_s: float = Field(default=0.2, gt=0, le=5, description="How often a worker writes progress")
    sse_max_s: float = Field(default=300.0, gt=0, description="Longest an events stream stays open")
    sandbox_bucket_name: str = Field(
        default="",
        description="S3 bucket of sandbox-run requests and results; empty means the namespace's bucket "
        "from algoitny_shared.buckets (<namespace>-executions-sandbox).",
    )

    def sandbox_bucket(self) -> str:
        return self.sandbox_bucket_name or SANDBOX_IO.physical(self.namespace)
