"""The execution counter on the in-memory unit of work: +1 and the inbox mark commit together,
a redelivery counts nothing, an unknown problem's event is marked alone (no moto, no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from algoitny_problems.adapters.tables import PROBLEMS_INBOX
from algoitny_problems.service_layer.maintenance import ExecutionCounter
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import ExecutionCompleted
from algoitny_shared.inbox import Inbox
from algoitny_shared.uow import InMemoryUnitOfWork, UnitOfWork


class Store:
    def __init__(self, problems: set[str]) -> None:
        self.counts = dict.fromkeys(problems, 0)
        self.inbox: set[str] = set()

    def add_execution(self, platform: str, problem_id: str) -> dict[str, Any]:
        return {"count": f"{platform}/{problem_id}"}

    def cancel(self, items: list[dict[str, Any]]) -> list[str] | None:
        mark = items[0]["Put"]["Item"]["pk"]["S"]
        if mark in self.inbox:
            return ["ConditionalCheckFailed"] + ["None"] * (len(items) - 1)
        if any(item["count"] not in self.counts for item in items[1:]):
            return ["None", "ConditionalCheckFailed"]
        self.inbox.add(mark)
        for item in items[1:]:
            self.counts[item["count"]] += 1
        return None

    def uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(cancel=self.cancel)


def _completed(problem_id: str) -> Any:
    payload = ExecutionCompleted.model_validate(
        {
            "execution_id": f"x-{problem_id}",
            "user_id": "u1",
            "platform": "cf",
            "problem_id": problem_id,
            "verdict": "AC",
            "language": "python3",
            "completed_at": datetime(2026, 5, 1, tzinfo=UTC),
        }
    )
    return REGISTRY.envelope(payload, producer="executions", aggregate_id=f"x-{problem_id}", aggregate_version=2)


async def test_counted_once_redelivery_is_a_duplicate_unknown_problem_is_marked_alone() -> None:
    store = Store({"cf/1A"})
    counter = ExecutionCounter(store, Inbox(None, PROBLEMS_INBOX, "ns"), store.uow)  # type: ignore[arg-type]
    known, unknown = _completed("1A"), _completed("9Z")
    for envelope in (known, known, unknown, unknown):
        await counter.on_execution_completed(envelope, REGISTRY.decode(envelope))  # type: ignore[arg-type]
    assert store.counts == {"cf/1A": 1}
    assert counter.outcomes == {"counted": 1, "duplicate": 2, "unknown_problem": 1}
    assert len(store.inbox) == 2
