"""Hints from Gemini: the shared client (algoitny_shared.llm: retries, breaker, metrics) with the
hints JSON schema and parser."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.genai import types

from algoitny_hints.domain.models import Hint
from algoitny_hints.domain.prompt import parse_answer
from algoitny_hints.settings import HintsSettings
from algoitny_shared.llm import LLM_COST, LLM_TOKENS, CircuitBreaker, GeminiClient, LlmUnavailable

HINTS_SCHEMA = types.Schema(
    type=types.Type.OBJECT,
    properties={
        "hints": types.Schema(
            type=types.Type.ARRAY,
            min_items=3,
            max_items=5,
            items=types.Schema(
                type=types.Type.OBJECT,
                properties={
                    "level": types.Schema(type=types.Type.INTEGER),
                    "title": types.Schema(type=types.Type.STRING),
                    "text": types.Schema(type=types.Type.STRING),
                },
                required=["level", "title", "text"],
            ),
        )
    },
    required=["hints"],
)


@dataclass(frozen=True)
class LlmAnswer:
    hints: list[Hint]
    model: str
    prompt_tokens: int
    output_tokens: int
    cost_usd: float
    attempts: int
    seconds: float


class GeminiHints:
    """One ``generate(prompt)`` = up to ``gemini_max_attempts`` calls; raises LlmUnavailable."""

    def __init__(
        self,
        settings: HintsSettings,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = GeminiClient(settings, breaker, sleep)
        self.model = self._client.model
        self.breaker = self._client.breaker
        self.enabled = self._client.enabled

    async def generate(self, prompt: str) -> LlmAnswer:
        r = await self._client.generate_json(
            prompt, HINTS_SCHEMA, parse_answer, temperature=0.3, max_output_tokens=2048
        )
        return LlmAnswer(r.value, r.model, r.prompt_tokens, r.output_tokens, r.cost_usd, r.attempts, r.seconds)

    def cost(self, prompt_tokens: int, output_tokens: int) -> float:
        return self._client.cost(prompt_tokens, output_tokens)


__all__ = ["LLM_COST", "LLM_TOKENS", "CircuitBreaker", "GeminiHints", "LlmAnswer", "LlmUnavailable"]
