"""PlanMembership on the in-memory unit of work (no moto, no Kafka): each accounts event moves
the user's counted plan exactly once, redeliveries change nothing, a concurrent move is read
again and applied once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from algoitny_ratelimit.adapters.tables import RATELIMIT_INBOX
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanState
from algoitny_ratelimit.service_layer.membership import PlanMembership
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import UserDeactivated, UserPlanChanged, UserReactivated, UserRegistered
from algoitny_shared.inbox import Inbox
from algoitny_shared.uow import InMemoryUnitOfWork, UnitOfWork

NOW = datetime(2026, 5, 1, tzinfo=UTC)


class Store:
    """Plans, user states and inbox marks; applies what a unit of work commits, with the
    conditions the DynamoDB items carry (inbox once, state at the revision read)."""

    def __init__(self, plans: set[str]) -> None:
        self.plans = plans
        self.counts: dict[str, int] = dict.fromkeys(plans, 0)
        self.states: dict[str, UserPlanState] = {}
        self.inbox: set[str] = set()
        self.race: UserPlanState | None = None  # a concurrent write that lands before the next commit

    def cancel(self, items: list[dict[str, Any]]) -> list[str] | None:
        mark = items[0]["Put"]["Item"]["pk"]["S"]
        if mark in self.inbox:
            return ["ConditionalCheckFailed"] + ["None"] * (len(items) - 1)
        if self.race is not None:
            self.states[self.race.user_id], self.race = self.race, None
            return ["None", "ConditionalCheckFailed"] + ["None"] * (len(items) - 2)
        self.inbox.add(mark)
        for item in items[1:]:
            if "state" in item:
                self.states[item["state"].user_id] = item["state"]
            else:
                self.counts[item["plan"]] += item["delta"]
        return None

    # -- the repositories' surface PlanMembership uses

    async def state(self, user_id: str) -> UserPlanState | None:
        return self.states.get(user_id)

    def put_state(self, new: UserPlanState, previous: UserPlanState | None) -> dict[str, Any]:
        return {"state": new, "rev": previous.rev if previous else None}

    async def get(self, plan_id: str, *, fresh: bool = False) -> object | None:
        return object() if plan_id in self.plans else None

    def add_users(self, plan_id: str, delta: int) -> dict[str, Any]:
        return {"plan": plan_id, "delta": delta}

    def forget(self, plan_id: str) -> None:
        pass

    def uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(cancel=self.cancel)


def _membership(store: Store) -> PlanMembership:
    inbox = Inbox(None, RATELIMIT_INBOX, "ns")
    return PlanMembership(store, store, inbox, store.uow)  # type: ignore[arg-type]


def _envelope(payload: Any, version: int) -> EventEnvelope:
    return REGISTRY.envelope(payload, producer="accounts", aggregate_id=payload.user_id, aggregate_version=version)


async def test_each_event_moves_the_count_once_and_a_redelivery_changes_nothing() -> None:
    store = Store({"free", "pro"})
    m = _membership(store)
    registered = _envelope(UserRegistered(user_id="u1", role="user", plan_id="free", registered_at=NOW), 1)
    await m.on_user_registered(registered, REGISTRY.decode(registered))  # type: ignore[arg-type]
    await m.on_user_registered(registered, REGISTRY.decode(registered))  # type: ignore[arg-type]
    assert store.counts == {"free": 1, "pro": 0}
    moved = _envelope(UserPlanChanged(user_id="u1", plan_id="pro", previous_plan_id="free", changed_at=NOW), 2)
    await m.on_user_plan_changed(moved, REGISTRY.decode(moved))  # type: ignore[arg-type]
    await m.on_user_plan_changed(moved, REGISTRY.decode(moved))  # type: ignore[arg-type]
    assert store.counts == {"free": 0, "pro": 1}
    off = _envelope(UserDeactivated(user_id="u1", deactivated_at=NOW), 3)
    await m.on_user_deactivated(off, REGISTRY.decode(off))  # type: ignore[arg-type]
    assert store.counts == {"free": 0, "pro": 0} and store.states["u1"].active is False


async def test_a_concurrent_move_is_read_again_and_an_older_event_is_only_marked() -> None:
    store = Store({"free", "pro"})
    m = _membership(store)
    store.race = UserPlanState("u2", "pro", True, "pro", event_version=1, rev=1)
    store.counts["pro"] = 1  # what the concurrent delivery counted
    moved = _envelope(UserPlanChanged(user_id="u2", plan_id="free", previous_plan_id="pro", changed_at=NOW), 2)
    await m.on_user_plan_changed(moved, REGISTRY.decode(moved))  # type: ignore[arg-type]
    assert store.counts == {"free": 1, "pro": 0} and store.states["u2"].rev == 2
    stale = _envelope(UserRegistered(user_id="u2", role="user", plan_id="pro", registered_at=NOW), 1)
    await m.on_user_registered(stale, REGISTRY.decode(stale))  # type: ignore[arg-type]
    assert store.counts == {"free": 1, "pro": 0} and len(store.inbox) == 2


async def test_a_reactivated_user_counts_again_once() -> None:
    store = Store({"free", "pro"})
    m = _membership(store)
    registered = _envelope(UserRegistered(user_id="u3", role="user", plan_id="pro", registered_at=NOW), 1)
    await m.on_user_registered(registered, REGISTRY.decode(registered))  # type: ignore[arg-type]
    off = _envelope(UserDeactivated(user_id="u3", deactivated_at=NOW), 2)
    await m.on_user_deactivated(off, REGISTRY.decode(off))  # type: ignore[arg-type]
    assert store.counts == {"free": 0, "pro": 0}
    on = _envelope(UserReactivated(user_id="u3", reactivated_at=NOW), 3)
    await m.on_user_reactivated(on, REGISTRY.decode(on))  # type: ignore[arg-type]
    await m.on_user_reactivated(on, REGISTRY.decode(on))  # type: ignore[arg-type]
    assert store.counts == {"free": 0, "pro": 1} and store.states["u3"].active is True
    assert store.states["u3"].plan_id == "pro" and store.states["u3"].event_version == 3
