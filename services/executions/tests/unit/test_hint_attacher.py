from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from algoitny_executions.service_layer.hint_attacher import HintAttacher
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import GeneratedHint, HintGenerated


class FakeHistory:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {"01EXEC": {}}

    async def update(self, execution_id: str, fields: dict[str, Any], *, unless_completed: bool = True) -> bool:
        assert unless_completed is False  # hints arrive after the verdict
        if execution_id not in self.items:
            return False
        self.items[execution_id].update(fields)
        return True


def _event(kind: str, execution_id: str | None) -> tuple[Any, HintGenerated]:
    payload = HintGenerated(
        request_id="r-1",
        kind=kind,
        execution_id=execution_id,
        user_id="u1",
        source="fallback",
        hints=[
            GeneratedHint(level=2, title="Overflow", text="Use 64-bit integers."),
            GeneratedHint(level=1, title="Look", text="Check the largest sum."),
        ],
        generated_at=datetime.now(UTC),
    )
    return REGISTRY.envelope(payload, producer="hints", aggregate_id="r-1", aggregate_version=2), payload


async def test_execution_hints_are_attached_in_level_order_and_redelivery_changes_nothing() -> None:
    history = FakeHistory()
    attacher = HintAttacher(history)
    envelope, payload = _event("execution", "01EXEC")
    await attacher.on_hint_generated(envelope, payload)
    first = dict(history.items["01EXEC"])
    await attacher.on_hint_generated(envelope, payload)
    assert history.items["01EXEC"] == first
    assert first == {
        "hints": ["Look: Check the largest sum.", "Overflow: Use 64-bit integers."],
        "hints_source": "fallback",
    }


async def test_problem_hints_and_unknown_executions_are_ignored() -> None:
    history = FakeHistory()
    attacher = HintAttacher(history)
    await attacher.on_hint_generated(*_event("problem", None))
    await attacher.on_hint_generated(*_event("execution", "01MISSING"))
    assert history.items == {"01EXEC": {}}
