"""The hints table on moto: a request stored once, its result stored once (the worker's
idempotency record), a refund marked once, token budgets added atomically; events in the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from support.outbox_tools import CommittedOutbox

from algoitny_hints.adapters.repository import DynamoHintStore, execution_target
from algoitny_hints.adapters.tables import HINTS_OUTBOX
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import GeneratedHint, HintGenerated, HintRequested
from algoitny_shared.outbox import Outbox
from algoitny_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_request_result_refund_and_budget_are_each_stored_once(provisioned: dict[str, Any]) -> None:
    settings = ServiceSettings()
    client = dynamodb(settings)
    outbox = Outbox(client, HINTS_OUTBOX, settings.namespace)
    store = DynamoHintStore(client, outbox, settings.namespace)
    committed = CommittedOutbox(outbox.table).attach(client)  # published or not (a relay deletes)
    try:
        await _each_stored_once(store, committed)
    finally:
        committed.detach()


async def _each_stored_once(store: DynamoHintStore, committed: CommittedOutbox) -> None:
    rid, eid, now = f"r{uuid.uuid4().hex}", f"e{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    payload = HintRequested(request_id=rid, kind="execution", execution_id=eid, user_id="u1", requested_at=now)
    requested = REGISTRY.envelope(payload, producer="hints", aggregate_id=rid, aggregate_version=1)
    request = {**payload.model_dump(mode="json", exclude_none=True), "status": "pending"}
    target = execution_target(eid)
    assert await store.create_request(request, requested, target)
    assert not await store.create_request(request, requested, target)
    assert (await store.latest(target))["status"] == "pending"  # type: ignore[index]
    generated = REGISTRY.envelope(
        HintGenerated(
            request_id=rid,
            kind="execution",
            execution_id=eid,
            user_id="u1",
            source="fallback",
            hints=[GeneratedHint(level=1, title="t", text="x")],
            generated_at=now,
        ),
        producer="hints",
        aggregate_id=rid,
        aggregate_version=2,
    )
    view = {
        "request_id": rid,
        "kind": "execution",
        "status": "ready",
        "hints": [{"level": 1, "title": "t", "text": "x"}],
    }
    # The model's answer is kept on the pending request (a redelivery reuses it) ...
    await store.save_answer(rid, {"source": "gemini", "hints": []})
    assert (await store.get_request(rid))["answer"] == '{"source": "gemini", "hints": []}'  # type: ignore[index]
    assert await store.complete(rid, target, view, generated)
    assert not await store.complete(rid, target, view, generated)  # a redelivery stores nothing
    # ... and never replaced once the request is finished.
    await store.save_answer(rid, {"source": "gemini", "hints": ["late"]})
    assert "late" not in (await store.get_request(rid))["answer"]  # type: ignore[index]
    assert (await store.get_request(rid))["status"] == "ready"  # type: ignore[index]
    assert (await store.latest(target))["hints"][0]["text"] == "x"  # type: ignore[index]
    await store.fail(rid, target, "late failure")  # never overrides a result
    assert (await store.get_request(rid))["status"] == "ready"  # type: ignore[index]
    assert await store.mark_refunded(rid)
    assert not await store.mark_refunded(rid)
    day = now.strftime("%Y-%m-%d")
    user = f"u{uuid.uuid4().hex[:8]}"
    before_global = (await store.tokens_used(day, user))[1]
    await store.add_tokens(day, user, 150)
    await store.add_tokens(day, user, 50)
    used_user, used_global = await store.tokens_used(day, user)
    assert used_user == 200 and used_global >= before_global + 200
    [outboxed] = [i for i in committed.items if i["event_id"] == str(generated.event_id)]  # stored once
    assert outboxed["event_type"] == "hints.HintGenerated"
