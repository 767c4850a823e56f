"""Gemini writes programs for a problem: a test-input generator, or a reference solution.

Uses the shared client (algoitny_shared.llm: retries, breaker, metrics, JSON schema). The
answer is JSON ``{"language": <judge language id>, "code": "..."}``; anything else is a
malformed answer (retried by the client). The code is never trusted: it runs only in the
judge's sandbox, and an authored solution is used only once it passes the samples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.genai import types

from algoitny_problems.domain.models import Problem
from algoitny_problems.generation.domain.jobs import MAX_PROGRAM_BYTES
from algoitny_shared.languages import LANGUAGE_IDS, UnknownLanguage, normalise
from algoitny_shared.llm import GeminiClient, MalformedAnswer

PROGRAM_SCHEMA = types.Schema(
    type=types.Type.OBJECT,
    properties={
        "language": types.Schema(type=types.Type.STRING, enum=list(LANGUAGE_IDS)),
        "code": types.Schema(type=types.Type.STRING),
    },
    required=["language", "code"],
)
MAX_SAMPLE_CHARS = 2000


@dataclass(frozen=True)
class AuthoredProgram:
    language: str
    code: str
    model: str


def parse_program(text: str) -> tuple[str, str]:
    try:
        data = json.loads(text)
        language = normalise(str(data["language"]))
        code = str(data["code"])
    except (ValueError, KeyError, TypeError, UnknownLanguage) as exc:
        raise MalformedAnswer(f"not a program: {exc}") from exc
    if not code.strip() or len(code.encode()) > MAX_PROGRAM_BYTES:
        raise MalformedAnswer("empty or oversized program")
    return language, code


def _problem_text(problem: Problem) -> list[str]:
    parts = [
        f"Problem: {problem.title} ({problem.platform} {problem.problem_id})",
        f"Tags: {', '.join(problem.tags) or 'none'}",
        f"Time limit: {problem.time_limit_ms} ms, memory limit: {problem.memory_limit_mb} MB",
        "Constraints and statement:",
        (problem.constraints or "(not given)")[:20_000],
    ]
    for n, sample in enumerate(problem.samples, start=1):
        parts += [
            f"Sample {n} input:",
            sample.input[:MAX_SAMPLE_CHARS],
            f"Sample {n} output:",
            sample.output[:MAX_SAMPLE_CHARS],
        ]
    return parts


def generator_prompt(problem: Problem) -> str:
    return "\n".join(
        [
            "Write a test-input GENERATOR for this competitive-programming problem.",
            "The program reads one line from stdin: `<seed> <size>` where seed is an integer and size is one "
            "of small, medium, large, max. It must seed its random generator with the seed only (same seed, "
            "same output), print exactly one valid test input that respects every constraint, and exit 0. "
            "small: tiny values; medium: moderate; large: near the limits; max: at the limits. No files, no "
            "network, no other input. Prefer python3.",
            'Answer as JSON: {"language": one of ' + ", ".join(LANGUAGE_IDS) + ', "code": the program}.',
            *_problem_text(problem),
        ]
    )


def solution_prompt(problem: Problem) -> str:
    return "\n".join(
        [
            "Write a correct and efficient REFERENCE SOLUTION for this competitive-programming problem: it "
            "reads the input on stdin and prints the answer on stdout, within the limits. It must produce "
            "exactly the sample outputs for the sample inputs.",
            'Answer as JSON: {"language": one of ' + ", ".join(LANGUAGE_IDS) + ', "code": the program}.',
            *_problem_text(problem),
        ]
    )


class ProgramAuthor:
    def __init__(self, client: GeminiClient) -> None:
        self._client = client

    @property
    def enabled(self) -> bool:
        return self._client.enabled

    @property
    def model(self) -> str:
        return self._client.model

    async def _write(self, prompt: str) -> AuthoredProgram:
        result = await self._client.generate_json(
            prompt, PROGRAM_SCHEMA, parse_program, temperature=0.2, max_output_tokens=8192
        )
        language, code = result.value
        return AuthoredProgram(language, code, result.model)

    async def generator(self, problem: Problem) -> AuthoredProgram:
        return await self._write(generator_prompt(problem))

    async def solution(self, problem: Problem) -> AuthoredProgram:
        return await self._write(solution_prompt(problem))
