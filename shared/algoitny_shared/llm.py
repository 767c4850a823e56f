"""Gemini through the google-genai client, for every service that asks an LLM for JSON.

One :class:`GeminiClient` call = up to ``gemini_max_attempts`` requests with a JSON response
schema, timeouts, retries with backoff and jitter on 429/5xx/timeouts/malformed answers, a
circuit breaker, and token usage/cost per call as metrics. What the JSON means is the
caller's business: it passes a ``parse`` function that raises :class:`MalformedAnswer`.
Without an API key the client is disabled and every call raises ``LlmUnavailable("no_api_key")``.
Tests point ``gemini_base_url`` at a local fake HTTP server (tests/support/fake_gemini.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx
from google import genai
from google.genai import errors, types
from prometheus_client import Counter, Gauge, Histogram
from pydantic import Field, SecretStr

from algoitny_shared.llm_answers import MalformedAnswer
from algoitny_shared.settings import ServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

LLM_CALLS = Counter("algoitny_llm_calls_total", "Gemini calls (attempts) by outcome", ["model", "outcome"])
LLM_TOKENS = Counter("algoitny_llm_tokens_total", "Gemini tokens", ["model", "kind"])
LLM_COST = Counter("algoitny_llm_cost_usd_total", "Estimated Gemini cost in USD", ["model"])
LLM_LATENCY = Histogram(
    "algoitny_llm_seconds", "Gemini call latency", ["model"], buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)
)
BREAKER_OPEN = Gauge("algoitny_llm_breaker_open", "1 while a Gemini circuit breaker is open")


class LlmSettings(ServiceSettings):
    """Settings of a service that calls Gemini (hints, problems)."""

    gemini_api_key: SecretStr = Field(
        default=SecretStr(""), description="Gemini API key; empty means offline (no LLM calls)."
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


class LlmUnavailable(Exception):
    """Gemini gave no usable answer (after retries, or the breaker is open); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LlmResult(Generic[T]):
    value: T
    model: str
    prompt_tokens: int
    output_tokens: int
    cost_usd: float
    attempts: int
    seconds: float


class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures; after ``reset_s`` one trial call
    (half-open) closes it on success or re-opens it on failure."""

    def __init__(self, threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = threshold
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = False
        BREAKER_OPEN.set(0)

    def failure(self) -> None:
        self._failures += 1
        self._trial = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
            BREAKER_OPEN.set(1)


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, errors.ServerError):
        return True
    if isinstance(exc, errors.ClientError):
        return exc.code in (408, 429)
    return isinstance(exc, (TimeoutError, httpx.TimeoutException, httpx.TransportError, MalformedAnswer))


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, MalformedAnswer):
        return "malformed"
    if isinstance(exc, errors.ClientError) and exc.code == 429:
        return "rate_limited"
    if isinstance(exc, errors.ServerError):
        return "server_error"
    if isinstance(exc, errors.ClientError):
        return "client_error"
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return "timeout"
    return "transport_error"


class GeminiClient:
    """``generate_json(prompt, schema, parse)`` = up to ``gemini_max_attempts`` calls; raises LlmUnavailable."""

    def __init__(
        self,
        settings: LlmSettings,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self.model = settings.gemini_model
        self.breaker = breaker or CircuitBreaker(settings.gemini_breaker_failures, settings.gemini_breaker_reset_s)
        self._sleep = sleep
        key = settings.gemini_api_key.get_secret_value()
        self.enabled = bool(key)
        self._client: genai.Client | None = None
        if key:
            self._client = genai.Client(
                api_key=key,
                http_options=types.HttpOptions(
                    base_url=settings.gemini_base_url or None,
                    timeout=int(settings.gemini_timeout_s * 1000),
                ),
            )

    def _backoff(self, attempt: int) -> float:
        base = min(self._settings.gemini_backoff_max_s, self._settings.gemini_backoff_s * 2 ** (attempt - 1))
        return base * random.uniform(0.5, 1.5)

    async def generate_json(
        self,
        prompt: str,
        schema: types.Schema,
        parse: Callable[[str], T],
        *,
        temperature: float = 0.3,
        max_output_tokens: int = 2048,
    ) -> LlmResult[T]:
        if self._client is None:
            raise LlmUnavailable("no_api_key")
        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=schema,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
        )
        started = time.monotonic()
        last = "unknown"
        attempts = self._settings.gemini_max_attempts
        for attempt in range(1, attempts + 1):
            if not self.breaker.allow():
                LLM_CALLS.labels(self.model, "breaker_open").inc()
                raise LlmUnavailable("breaker_open")
            t0 = time.monotonic()
            try:
                response = await asyncio.wait_for(
                    self._client.aio.models.generate_content(model=self.model, contents=prompt, config=config),
                    timeout=self._settings.gemini_timeout_s + 1,
                )
                LLM_LATENCY.labels(self.model).observe(time.monotonic() - t0)
                usage = response.usage_metadata
                p_tok = (usage.prompt_token_count or 0) if usage else 0
                o_tok = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
                self._account(p_tok, o_tok)
                value = parse(response.text or "")
            except Exception as exc:
                outcome = outcome_of(exc)
                LLM_CALLS.labels(self.model, outcome).inc()
                last = outcome
                if outcome != "malformed":
                    self.breaker.failure()  # the service misbehaved; a bad answer is not an outage
                if not retryable(exc) or attempt == attempts:
                    log.warning("gemini failed after %d attempt(s): %s", attempt, outcome)
                    raise LlmUnavailable(f"{outcome}_after_{attempt}_attempts") from exc
                await self._sleep(self._backoff(attempt))
                continue
            self.breaker.success()
            LLM_CALLS.labels(self.model, "ok").inc()
            return LlmResult(
                value, self.model, p_tok, o_tok, self.cost(p_tok, o_tok), attempt, time.monotonic() - started
            )
        raise LlmUnavailable(last)  # pragma: no cover - the loop returns or raises

    def cost(self, prompt_tokens: int, output_tokens: int) -> float:
        s = self._settings
        return (prompt_tokens * s.gemini_price_input_per_mtok + output_tokens * s.gemini_price_output_per_mtok) / 1e6

    def _account(self, prompt_tokens: int, output_tokens: int) -> None:
        LLM_TOKENS.labels(self.model, "prompt").inc(prompt_tokens)
        LLM_TOKENS.labels(self.model, "output").inc(output_tokens)
        LLM_COST.labels(self.model).inc(self.cost(prompt_tokens, output_tokens))


__all__ = [
    "LLM_COST",
    "LLM_TOKENS",
    "CircuitBreaker",
    "GeminiClient",
    "LlmResult",
    "LlmSettings",
    "LlmUnavailable",
    "MalformedAnswer",
]
