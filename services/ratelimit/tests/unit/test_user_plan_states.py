"""UserPlans state items: the conditions that make membership updates exact (no I/O)."""

from __future__ import annotations

from typing import Any

from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository, UserPlanState


class FakeClient:
    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {"Item": self.item} if self.item else {}


def test_writes_are_conditioned_on_the_revision_read() -> None:
    repo = UserPlanRepository(FakeClient(None), "ns")
    first = repo.put_state(UserPlanState("u1", "free", True, "free", 1, rev=1), previous=None)["Put"]
    assert first["ConditionExpression"] == "attribute_not_exists(user_id)"
    assert first["Item"]["counted_in"] == {"S": "free"}
    before = UserPlanState("u1", "free", True, "free", 1, rev=1)
    after = UserPlanState("u1", "pro", False, None, 2, rev=2)
    move = repo.put_state(after, previous=before)["Put"]
    assert move["ConditionExpression"] == "rev = :rev" and move["ExpressionAttributeValues"] == {":rev": {"N": "1"}}
    assert "counted_in" not in move["Item"] and move["Item"]["active"] == {"BOOL": False}


async def test_items_from_before_the_revision_count_in_their_plan() -> None:
    legacy = UserPlanRepository(FakeClient({"user_id": {"S": "u1"}, "plan_id": {"S": "free"}}), "ns")
    state = await legacy.state("u1")
    assert state == UserPlanState("u1", "free", True, "free", 0, 0)
    put = legacy.put_state(UserPlanState("u1", "pro", True, "pro", 2, 1), previous=state)["Put"]
    assert put["ConditionExpression"] == "attribute_exists(user_id) AND attribute_not_exists(rev)"
    off = {"user_id": {"S": "u2"}, "plan_id": {"S": "pro"}, "active": {"BOOL": False}, "rev": {"N": "3"}}
    state = await UserPlanRepository(FakeClient(off), "ns").state("u2")
    assert state is not None and state.counted_in is None and not state.active and state.rev == 3
