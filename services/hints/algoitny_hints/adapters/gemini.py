"""Hints from Gemini: the shared client (algoitny_shared.llm: retries, breaker, metrics) with the
hints JSON schema and parser."""

from __future__ import annotations

from google.genai import types

from algoitny_hints.domain.models import Hint
from algoitny_hints.domain.prompt import parse_answer
from algoitny_shared.llm import LLM_COST, LLM_TOKENS, CircuitBreaker, GeminiClient, LlmResult, LlmUnavailable

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


LlmAnswer = LlmResult[list[Hint]]


class GeminiHints(GeminiClient):
    """The shared client asking for hints: one ``generate(prompt)`` = up to ``gemini_max_attempts``
    calls; raises LlmUnavailable."""

    async def generate(self, prompt: str) -> LlmAnswer:
        return await self.generate_json(prompt, HINTS_SCHEMA, parse_answer, temperature=0.3, max_output_tokens=2048)


__all__ = ["LLM_COST", "LLM_TOKENS", "CircuitBreaker", "GeminiHints", "LlmAnswer", "LlmUnavailable"]
