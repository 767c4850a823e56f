"""Plan copies, the may-register flag and the search keys (no I/O: fakes for the repositories)."""

from __future__ import annotations

from typing import Any

from algoitny_accounts.domain.plans import PlanCopy
from algoitny_accounts.domain.users import User, name_key
from algoitny_accounts.service_layer.plan_sync import PlanSync
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import PlanDeleted, PlanUpdated


class FakePlans:
    def __init__(self) -> None:
        self.rows: dict[str, PlanCopy] = {}

    async def get(self, plan_id: str, *, fresh: bool = False) -> PlanCopy | None:
        return self.rows.get(plan_id)

    async def save(self, plan: PlanCopy, *, revives: bool = False) -> bool:
        held = self.rows.get(plan.plan_id)
        if held and held.rev > plan.rev and not (revives and held.deleted):
            return False
        self.rows[plan.plan_id] = plan
        return True


class FakeUsers:
    def __init__(self, on_plan: dict[str, str]) -> None:
        self.on_plan = on_plan  # user id -> plan id
        self.copies: dict[str, tuple[dict[str, Any], int]] = {}

    async def ids_on_plan(self, plan_id: str) -> list[str]:
        return [u for u, p in self.on_plan.items() if p == plan_id]

    async def copy_plan_limits(self, user_id: str, plan_id: str, limits: dict[str, Any], rev: int) -> bool:
        if self.copies.get(user_id, ({}, 0))[1] >= rev:
            return False
        self.copies[user_id] = (limits, rev)
        return True


def _update(rev: int, register: bool) -> Any:
    payload = PlanUpdated(
        plan_id="studio",
        name="Studio",
        daily_limits={"execution": 5},
        may_register_problems=register,
        may_view_all_problems=False,
        max_registered_problems=3,
        active=True,
    )
    return REGISTRY.envelope(payload, producer="ratelimit", aggregate_id="studio", aggregate_version=rev), payload


async def test_plan_events_fan_out_to_the_users_on_the_plan_in_order() -> None:
    plans, users = FakePlans(), FakeUsers({"u1": "studio", "u2": "studio", "u3": "free"})
    sync = PlanSync(plans, users)  # type: ignore[arg-type]
    await sync.on_plan_updated(*_update(2, True))
    assert set(users.copies) == {"u1", "u2"}
    assert users.copies["u1"] == (
        {
            "daily_limits": {"execution": 5},
            "may_register_problems": True,
            "may_view_all_problems": False,
            "max_registered_problems": 3,
        },
        2,
    )
    await sync.on_plan_updated(*_update(1, False))  # older: ignored, no fan-out
    assert users.copies["u1"][0]["may_register_problems"] is True and plans.rows["studio"].rev == 2
    deleted = REGISTRY.envelope(
        PlanDeleted(plan_id="studio"), producer="ratelimit", aggregate_id="studio", aggregate_version=3
    )
    await sync.on_plan_deleted(deleted, PlanDeleted(plan_id="studio"))
    assert plans.rows["studio"].deleted and not plans.rows["studio"].exists and plans.rows["studio"].name == "Studio"


def test_the_users_flag_comes_from_the_copied_plan_limits() -> None:
    user = User.new("a@x.dev", "A")
    assert not user.may_register
    studio = PlanCopy(plan_id="studio", may_register_problems=True, rev=4)
    assert user.model_copy(update={"plan_limits": studio.limits()}).may_register
    assert set(studio.limits()) == {
        "daily_limits",
        "may_register_problems",
        "may_view_all_problems",
        "max_registered_problems",
    }


def test_name_keys_are_case_and_space_insensitive() -> None:
    assert name_key("  Ann   MARIE  Smith ") == "ann marie smith"
    assert name_key("ÉMILE") == "émile"
