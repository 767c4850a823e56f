from __future__ import annotations

from pydantic import Field

from algoitny_shared.llm import LlmSettings


class HintsSettings(LlmSettings):
    """Gemini settings (gemini_*) come from the shared LlmSettings; empty key = offline fallback."""

    service_name: str = "hints"
    port: int = 8006
    executions_url: str = Field(default="http://127.0.0.1:8003", description="Where execution contexts are read.")
    problems_url: str = Field(default="http://127.0.0.1:8002", description="Where problem contexts are read.")
    ratelimit_url: str = Field(default="http://127.0.0.1:8004", description="Where failed hint requests are refunded.")
    upstream_timeout_s: float = Field(default=5.0, gt=0)

    user_daily_token_budget: int = Field(default=200_000, ge=0, description="LLM tokens per user per UTC day.")
    global_daily_token_budget: int = Field(default=20_000_000, ge=0, description="LLM tokens per UTC day, all users.")
    max_failing_tests: int = Field(default=3, ge=1, le=10, description="Failing tests shown to the model.")
    max_field_chars: int = Field(default=1500, ge=100, le=20_000, description="Truncation of inputs/outputs/errors.")
    max_code_chars: int = Field(default=20_000, ge=1000, le=200_000)
