"""Gemini through the real google-genai client, pointed at a local fake Gemini HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from support.fake_executions import execution_doc
from support.fake_gemini import GOOD_HINTS, MALFORMED, OK, RATE_LIMITED, SERVER_ERROR, FakeGemini, Step, answer
from support.fake_gemini import serve_gemini as serve

from algoitny_hints.adapters.gemini import LLM_COST, LLM_TOKENS, CircuitBreaker, GeminiHints, LlmUnavailable
from algoitny_hints.adapters.repository import MemoryHintStore, execution_target
from algoitny_hints.adapters.sources import NotVisible, parse_execution
from algoitny_hints.domain.models import ExecutionContext, ProblemContext
from algoitny_hints.service_layer.hints import HintService
from algoitny_hints.settings import HintsSettings
from algoitny_shared.events.catalog import HintRequested
from algoitny_shared.identity import Identity

REFERENCE = 'long long total = 0; for (int i = 0; i < n; ++i) total += a[i]; printf("%lld", total);'
USER_CODE = '#include <cstdio>\nint main(){int n; scanf("%d",&n); int s=0; /* SUM_MARKER */ printf("%d", s);}'


def settings(url: str, **extra: Any) -> HintsSettings:
    base: dict[str, Any] = {
        "gemini_api_key": "fake-key",
        "gemini_base_url": url,
        "gemini_model": "gemini-test",
        "gemini_timeout_s": 1.0,
        "gemini_max_attempts": 3,
        "gemini_backoff_s": 0.01,
        "gemini_backoff_max_s": 0.02,
        "gemini_breaker_failures": 3,
        "gemini_breaker_reset_s": 60,
    }
    return HintsSettings(**{**base, **extra})


class Executions:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.ctx = parse_execution(doc)

    async def get(self, execution_id: str, identity: Identity) -> ExecutionContext:
        if execution_id != self.ctx.execution_id or identity.user_id != self.ctx.user_id:
            raise NotVisible(execution_id)
        return self.ctx


class Problems:
    async def get(self, platform: str, problem_id: str) -> tuple[ProblemContext, str | None]:
        ctx = ProblemContext(
            platform=platform, problem_id=problem_id, title="Big Sum", tags=["math"], time_limit_ms=1000
        )
        return ctx, REFERENCE

    async def visible(self, platform: str, problem_id: str, identity: Identity) -> ProblemContext:
        return (await self.get(platform, problem_id))[0]


class Refunds:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    async def refund(self, user_id: str, request_id: str, day: str, reason: str) -> None:
        self.calls.append((user_id, request_id, day, reason))


EXECUTION = execution_doc(
    "ex-1",
    "alice",
    "WA",
    language="cpp17",
    code=USER_CODE,
    tests=[
        {"index": 0, "verdict": "AC"},
        {
            "index": 1,
            "verdict": "WA",
            "input": "2\n3000000000 3000000000\n",
            "expected": "6000000000\n",
            "output": "1705032704\n",
        },
    ],
)


def make_service(url: str, **extra: Any) -> tuple[HintService, MemoryHintStore, Refunds]:
    store, refunds = MemoryHintStore(), Refunds()
    s = settings(url, **extra)
    svc = HintService(s, store, Executions(EXECUTION), Problems(), refunds, GeminiHints(s))
    return svc, store, refunds


async def request(svc: HintService, store: MemoryHintStore) -> HintRequested:
    out = await svc.request_execution_hints("ex-1", Identity(user_id="alice", role="user"), None, "req-0001")
    return HintRequested.model_validate(store.requests[out["request_id"]])


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with serve(FakeGemini()) as fake:
        yield fake


async def test_success_uses_decoded_code_and_failing_test_never_the_reference(gemini: FakeGemini) -> None:
    svc, store, _ = make_service(gemini.url)
    tokens_before = LLM_TOKENS.labels("gemini-test", "prompt")._value.get()
    cost_before = LLM_COST.labels("gemini-test")._value.get()
    assert await svc.generate(await request(svc, store)) == "gemini"
    assert gemini.calls == 1
    req = gemini.requests[0]
    assert req["path"] == "/v1/models/gemini-test:generateContent"
    assert req["headers"].get("x-goog-api-key") == "fake-key"
    assert req["body"]["generationConfig"]["responseMimeType"] == "application/json"
    assert "hints" in json.dumps(req["body"]["generationConfig"]["responseSchema"])
    prompt = gemini.prompts()[0]
    assert "SUM_MARKER" in prompt and "int s=0" in prompt  # the code as the published view carries it
    assert "3000000000 3000000000" in prompt and "6000000000" in prompt and "1705032704" in prompt
    assert "Big Sum" in prompt and "1000 ms" in prompt
    assert REFERENCE not in prompt and "total += a[i]" not in prompt
    view = store.latest_views[execution_target("ex-1")]
    assert view["source"] == "gemini" and view["model"] == "gemini-test" and view["status"] == "ready"
    assert [h["text"] for h in view["hints"]] == [h["text"] for h in GOOD_HINTS["hints"]]
    assert LLM_TOKENS.labels("gemini-test", "prompt")._value.get() == tokens_before + 120
    assert LLM_COST.labels("gemini-test")._value.get() > cost_before
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert store.tokens[(day, "USER#alice")] == 180 and store.tokens[(day, "GLOBAL")] == 180
    generated = [e for e in store.events if e.event_type == "hints.HintGenerated"]
    assert len(generated) == 1 and generated[0].payload["source"] == "gemini"


async def test_redelivered_request_never_calls_the_llm_twice(gemini: FakeGemini) -> None:
    svc, store, _ = make_service(gemini.url)
    req = await request(svc, store)
    assert await svc.generate(req) == "gemini"
    assert await svc.generate(req) == "duplicate"
    assert gemini.calls == 1
    assert len([e for e in store.events if e.event_type == "hints.HintGenerated"]) == 1


async def test_a_store_failure_after_the_answer_does_not_pay_the_model_twice(
    gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, store, _ = make_service(gemini.url)
    req = await request(svc, store)
    complete = store.complete

    async def unavailable(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("DynamoDB unavailable")

    monkeypatch.setattr(store, "complete", unavailable)
    with pytest.raises(ConnectionError):
        await svc.generate(req)  # the consumer will redeliver
    assert gemini.calls == 1 and store.requests[req.request_id].get("answer")

    monkeypatch.setattr(store, "complete", complete)
    assert await svc.generate(req) == "gemini"
    assert gemini.calls == 1  # the kept answer is stored, not a second call
    view = store.latest_views[execution_target("ex-1")]
    assert view["source"] == "gemini" and [h["text"] for h in view["hints"]] == [h["text"] for h in GOOD_HINTS["hints"]]
    assert len([e for e in store.events if e.event_type == "hints.HintGenerated"]) == 1


async def test_malformed_json_is_retried_then_falls_back() -> None:
    with serve(FakeGemini(default=MALFORMED)) as fake:
        svc, store, _ = make_service(fake.url)
        assert await svc.generate(await request(svc, store)) == "fallback"
        assert fake.calls == 3
        view = store.latest_views[execution_target("ex-1")]
        assert view["source"] == "fallback" and view["cause"] == "wa_overflow"
        assert "64-bit" in json.dumps(view["hints"])
        assert svc.llm.breaker.state == "closed"  # bad answers are not an outage


async def test_429_then_success_is_retried() -> None:
    with serve(FakeGemini([RATE_LIMITED, RATE_LIMITED, OK])) as fake:
        svc, store, _ = make_service(fake.url)
        assert await svc.generate(await request(svc, store)) == "gemini"
        assert fake.calls == 3


async def test_500_until_the_breaker_opens_then_the_fallback_answers_without_calling() -> None:
    with serve(FakeGemini(default=SERVER_ERROR)) as fake:
        svc, store, _ = make_service(fake.url, gemini_max_attempts=2)
        assert await svc.generate(await request(svc, store)) == "fallback"
        assert fake.calls == 2 and svc.llm.breaker.state == "closed"
        store2 = MemoryHintStore()
        svc2 = HintService(svc._s, store2, Executions(EXECUTION), Problems(), Refunds(), svc.llm)
        assert await svc2.generate(await request(svc2, store2)) == "fallback"
        assert svc.llm.breaker.state == "open"
        calls = fake.calls
        store3 = MemoryHintStore()
        svc3 = HintService(svc._s, store3, Executions(EXECUTION), Problems(), Refunds(), svc.llm)
        assert await svc3.generate(await request(svc3, store3)) == "fallback"
        assert fake.calls == calls  # open: not even tried
        assert store3.latest_views[execution_target("ex-1")]["cause"] == "wa_overflow"


async def test_timeout_falls_back() -> None:
    with serve(FakeGemini(default=Step(delay_s=2.0))) as fake:
        svc, store, _ = make_service(fake.url, gemini_timeout_s=0.3, gemini_max_attempts=2)
        assert await svc.generate(await request(svc, store)) == "fallback"
        assert fake.calls == 2


async def test_output_mentioning_the_reference_solution_is_not_published() -> None:
    leak = {"hints": [*GOOD_HINTS["hints"][:2], {"level": 3, "title": "Code", "text": "Write: " + REFERENCE}]}
    with serve(FakeGemini(default=Step(body=answer(json.dumps(leak))))) as fake:
        svc, store, _ = make_service(fake.url)
        assert await svc.generate(await request(svc, store)) == "fallback"
        view = store.latest_views[execution_target("ex-1")]
        assert "total += a[i]" not in json.dumps(view)


async def test_no_key_and_spent_budgets_use_the_fallback(gemini: FakeGemini) -> None:
    svc, store, _ = make_service(gemini.url, gemini_api_key="")
    assert await svc.generate(await request(svc, store)) == "fallback"
    svc, store, _ = make_service(gemini.url, user_daily_token_budget=100)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    await store.add_tokens(day, "alice", 100)
    assert await svc.generate(await request(svc, store)) == "fallback"
    svc, store, _ = make_service(gemini.url, global_daily_token_budget=50)
    await store.add_tokens(day, None, 60)
    assert await svc.generate(await request(svc, store)) == "fallback"
    assert gemini.calls == 0


async def test_breaker_half_opens_after_the_reset_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker(2, 10.0, clock=lambda: now[0])
    breaker.failure()
    breaker.failure()
    assert not breaker.allow()
    now[0] = 11.0
    assert breaker.allow() and not breaker.allow()  # one trial call
    breaker.success()
    assert breaker.state == "closed"


async def test_client_without_key_is_unavailable() -> None:
    llm = GeminiHints(settings("http://127.0.0.1:9", gemini_api_key=""))
    with pytest.raises(LlmUnavailable):
        await llm.generate("x")
