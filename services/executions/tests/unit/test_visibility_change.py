"""PATCH /executions/{id} without I/O: who may change visibility, `public` and the sparse
`public_shard` change together with one ExecutionVisibilityChanged, a no-op publishes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.domain.history import VisibilityChange, new_execution_id, public_shard
from algoitny_executions.service_layer.executions import ExecutionService, HistoryLists
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError
from algoitny_shared.events import EventEnvelope
from algoitny_shared.identity import Identity
from algoitny_shared.uow import TransactionConflict

OWNER = Identity(user_id="owner", role="user")


class Store:
    """The item store; ``set_visibility`` returns an applier the fake unit of work runs on commit."""

    table = "t"

    def __init__(self, item: dict[str, Any]) -> None:
        self.items = {item["execution_id"]: item}

    async def get(self, execution_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item = self.items.get(execution_id)
        return dict(item) if item else None

    def put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("not used")

    def set_visibility(self, execution_id: str, public: bool, shard: str, changes: int) -> dict[str, Any]:
        def apply() -> None:
            item = self.items.get(execution_id)
            if item is None or int(item.get("visibility_changes", 0)) != changes:
                raise TransactionConflict(["ConditionalCheckFailed"])
            item.update(public=public, visibility_changes=changes + 1)
            if public:
                item["public_shard"] = shard
            else:
                item.pop("public_shard", None)

        return {"apply": apply}

    async def by_user(self, user_id: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return []

    async def by_public_shard(self, shard: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return [i for i in self.items.values() if i.get("public_shard") == shard][:limit]

    async def by_problem(self, key: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return []


class Uow:
    def __init__(self, published: list[EventEnvelope]) -> None:
        self._items: list[dict[str, Any]] = []
        self._published = published
        self.events: list[EventEnvelope] = []

    def add(self, item: dict[str, Any]) -> None:
        self._items.append(item)

    def publish(self, envelope: EventEnvelope) -> None:
        self.events.append(envelope)

    async def commit(self) -> None:
        for item in self._items:
            item["apply"]()
        self._published.extend(self.events)


def _service(public: bool = False) -> tuple[ExecutionService, Store, list[EventEnvelope], str]:
    execution_id = new_execution_id()
    item: dict[str, Any] = {
        "execution_id": execution_id,
        "user_id": "owner",
        "public": public,
        "platform": "p",
        "problem_id": "1",
        "problem_key": "p#1",
        "problem_title": "T",
        "language": "python3",
        "status": "completed",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    if public:
        item["public_shard"] = public_shard(execution_id)
    store = Store(item)
    published: list[EventEnvelope] = []
    service = ExecutionService(
        store,
        problems=None,  # type: ignore[arg-type]
        profiles=None,  # type: ignore[arg-type]
        uow=lambda: Uow(published),  # type: ignore[arg-type,return-value]
        languages=lambda: {"python3"},
        cursors=CursorCodec("k" * 32),
    )
    return service, store, published, execution_id


def _public_ids(store: Store) -> list[str]:
    lists = HistoryLists(store, CursorCodec("k" * 32))
    page = asyncio.run(lists.list(Identity(), "public", None, 20))
    return [e.execution_id for e in page.items]


def test_the_owner_makes_an_execution_public_then_private_with_one_event_each() -> None:
    service, store, published, eid = _service()
    view = asyncio.run(service.set_visibility(eid, VisibilityChange(public=True), OWNER))
    assert view.public and store.items[eid]["public_shard"] == public_shard(eid) and _public_ids(store) == [eid]
    asyncio.run(service.set_visibility(eid, VisibilityChange(public=True), OWNER))  # no change: no event
    view = asyncio.run(service.set_visibility(eid, VisibilityChange(public=False), OWNER))
    assert not view.public and "public_shard" not in store.items[eid] and _public_ids(store) == []
    assert [(e.event_type, e.payload["public"], e.aggregate_version) for e in published] == [
        ("executions.ExecutionVisibilityChanged", True, 3),
        ("executions.ExecutionVisibilityChanged", False, 4),
    ]
    assert published[0].payload["changed_by"] == "owner" and published[0].payload["user_id"] == "owner"


def test_an_admin_may_others_may_not() -> None:
    service, store, published, eid = _service(public=True)
    for who, status in ((Identity(user_id="someone", role="user"), 403), (Identity(), 401)):
        with pytest.raises(AppError) as err:
            asyncio.run(service.set_visibility(eid, VisibilityChange(public=False), who))
        assert err.value.code.status == status
    with pytest.raises(AppError) as err:
        asyncio.run(service.set_visibility(new_execution_id(), VisibilityChange(public=True), OWNER))
    assert err.value.code.status == 404
    assert store.items[eid]["public"] and not published
    asyncio.run(service.set_visibility(eid, VisibilityChange(public=False), Identity(user_id="root", role="admin")))
    assert not store.items[eid]["public"] and published[0].payload["changed_by"] == "root"


def test_a_concurrent_change_is_a_conflict() -> None:
    service, store, _, eid = _service()
    store.items[eid]["visibility_changes"] = 0
    original = store.get

    async def stale(execution_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item = await original(execution_id)
        store.items[execution_id]["visibility_changes"] = 1  # someone else changed it meanwhile
        return item

    store.get = stale  # type: ignore[method-assign]
    with pytest.raises(AppError) as err:
        asyncio.run(service.set_visibility(eid, VisibilityChange(public=True), OWNER))
    assert err.value.code.status == 409


def test_the_body_is_one_strict_boolean_and_the_transaction_item_keeps_the_shard_in_step() -> None:
    for bad in ({}, {"public": "yes"}, {"public": 1}, {"public": True, "code": "x"}):
        with pytest.raises(ValidationError):
            VisibilityChange(**bad)
    repo = HistoryRepository(None, "ns")
    made_public = repo.set_visibility("E" * 26, True, "PUB#3", 0)["Update"]
    assert made_public["UpdateExpression"] == "SET #p = :p, #vc = :next, #ps = :shard"
    assert made_public["ExpressionAttributeValues"][":shard"] == {"S": "PUB#3"}
    assert made_public["ConditionExpression"].startswith("attribute_exists(execution_id)")
    made_private = repo.set_visibility("E" * 26, False, "PUB#3", 2)["Update"]
    assert made_private["UpdateExpression"] == "SET #p = :p, #vc = :next REMOVE #ps"
    assert made_private["ExpressionAttributeValues"][":prev"] == {"N": "2"}
