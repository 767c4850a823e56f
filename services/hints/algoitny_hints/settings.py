from __future__ import annotations

from pydantic import Field, SecretStr

from algoitny_shared.settings import ServiceSettings


class HintsSettings(ServiceSettings):
    service_name: str = "hints"
    port: int = 8006
    executions_url: str = Field(default="http://127.0.0.1:8003", description="Where execution contexts are read.")
    problems_url: str = Field(default="http://127.0.0.1:8002", description="Where problem contexts are read.")
    ratelimit_url: str = Field(default="http://127.0.0.1:8004", description="Where failed hint requests are refunded.")
    upstream_timeout_s: float = Field(default=5.0, gt=0)

    gemini_api_key: SecretStr = Field(
        default=SecretStr(""), description="Gemini API key; empty means offline: hints come from the fallback."
    )
    gemini_model: str = Field(default="gemini-2.5-flash", min_length=1, max_length=100)
    gemini_base_url: str = Field(default="", description="Gemini API base URL; empty means Google's.")
    gemini_timeout_s: float = Field(default=20.0, gt=0, le=300)
    gemini_max_attempts: int = Field(default=3, ge=1, le=10, description="Calls per request (retries on 429/5xx).")
    gemini_backoff_s: float = Field(default=0.5, ge=0, description="First retry delay; doubles, with jitter.")
    gemini_backoff_max_s: float = Field(default=8.0, ge=0)
    gemini_breaker_failures: int = Field(default=5, ge=1, description="Consecutive failures that open the breaker.")
    gemini_breaker_reset_s: float = Field(default=30.0, gt=0, description="Open time before one trial call.")
    gemini_price_input_per_mtok: float = Field(default=0.30, ge=0, description="USD per million prompt tokens.")
    gemini_price_output_per_mtok: float = Field(default=2.50, ge=0, description="USD per million output tokens.")
    user_daily_token_budget: int = Field(default=200_000, ge=0, description="LLM tokens per user per UTC day.")
    global_daily_token_budget: int = Field(default=20_000_000, ge=0, description="LLM tokens per UTC day, all users.")
    max_failing_tests: int = Field(default=3, ge=1, le=10, description="Failing tests shown to the model.")
    max_field_chars: int = Field(default=1500, ge=100, le=20_000, description="Truncation of inputs/outputs/errors.")
    max_code_chars: int = Field(default=20_000, ge=1000, le=200_000)
