"""Importing legacy plans, users' plans and usage logs through ratelimit's own write path, as a
handler of the platform's legacy import kit (:mod:`algoitny_shared.legacy.row_importer`: once per
row version, quarantine with the reason, pause/resume, the internal API).

Each change commits in one transaction with its events (``PlanCreated``/``PlanUpdated``/
``PlanDeleted``; ``UsageConsumed``/``UsageRefunded`` with the legacy time, so statistics
count legacy usage) and the row's import state.

A plan's name is unique (regardless of case): a legacy plan whose name another plan holds is
imported under its fallback name. A deleted legacy plan that users still count on (their moves off
it have not arrived) is deactivated instead (not offered; users keep their limits until they move).
Both are decided on what is read before the write; a concurrent change cancels the transaction,
which the kit retries from the read.

A user's plan is owned by accounts (its events keep ``UserPlans``): the import of a ``users``
row writes ``UserPlans`` only while ratelimit has heard nothing from accounts of that user
(``PlanMembership.change_items`` at version 0), with the same counter moves, so quotas are right
from the first moment and ``active_users`` stays exact whichever arrives first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.usage_repository import RETENTION_S, UsageRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
from algoitny_ratelimit.domain.legacy import (
    check_usage,
    fallback_name,
    legacy_plan_of,
    map_plan,
    plan_columns,
    plan_extra,
    usage_columns,
    usage_request_id,
    user_plan,
)
from algoitny_ratelimit.domain.plans import Plan
from algoitny_ratelimit.domain.quota import day_of
from algoitny_ratelimit.service_layer.membership import PlanMembership
from algoitny_shared.dynamo import from_item
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted, PlanUpdated, UsageConsumed, UsageRefunded
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.identity import legacy_plan_id, legacy_user_id
from algoitny_shared.legacy.row_importer import DELETED, ImportTx, Quarantined, RowState
from algoitny_shared.legacy.rows import SubscriptionPlanRow, UsageLogRow, UserRow
from algoitny_shared.legacy.tables import SUBSCRIPTION_PLANS, USAGE_LOGS, USERS

log = logging.getLogger(__name__)
PRODUCER = "ratelimit"
_SNAPSHOT_FIELDS = {
    "plan_id",
    "name",
    "daily_limits",
    "may_register_problems",
    "may_view_all_problems",
    "max_registered_problems",
    "active",
}


def _snapshot(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(include=_SNAPSHOT_FIELDS)


def _charge_id(user_id: str, action: str, request_id: str) -> str:
    return f"{user_id}/{action}/{request_id}"


class RatelimitLegacyHandler:
    """The ratelimit service's legacy rows: ``subscription_plans``, ``users`` (each user's plan) and
    ``usage_logs``."""

    service = "ratelimit"
    tables: tuple[str, ...] = (SUBSCRIPTION_PLANS.name, USERS.name, USAGE_LOGS.name)

    def __init__(
        self,
        plans: PlanRepository,
        usage: UsageRepository,
        user_plans: UserPlanRepository,
        membership: PlanMembership,
    ) -> None:
        self._plans = plans
        self._usage = usage
        self._user_plans = user_plans
        self._membership = membership

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        if change.table.name == SUBSCRIPTION_PLANS.name:
            await self.apply_plan(change, tx)
        elif change.table.name == USERS.name:
            await self.apply_user(change, tx)
        else:
            await self.apply_usage(change, prior, tx)

    # -- subscription_plans ---------------------------------------------------------
    async def apply_plan(self, change: LegacyChange, tx: ImportTx) -> None:
        plan_id = legacy_plan_id(change.key)
        tx.refs = {"plan_id": plan_id}
        before = await self._plans.get(plan_id, fresh=True)
        if change.deleted:
            if before is not None:
                self._delete_plan(change, before, tx)
            return
        row = change.typed()
        assert isinstance(row, SubscriptionPlanRow)
        map_plan(row)  # refuses what cannot be a plan
        extra = plan_extra(row)
        if before is None:
            plan = map_plan(row, name=await self._free_name(row, plan_id))
            for item in self._plans.put_new(plan, extra):
                tx.add(item)
            tx.publish(
                REGISTRY.envelope(
                    PlanCreated(**_snapshot(plan)), producer=PRODUCER, aggregate_id=plan.plan_id, aggregate_version=1
                )
            )
            tx.after_commit.append(self._forget(plan.plan_id))
            return
        names = (row.name, fallback_name(row))
        keep_name = before.name if before.name in names else await self._free_name(row, plan_id)
        after = map_plan(row, name=keep_name, active_users=before.active_users, version=before.version + 1)
        raw = await self._plans.raw(before.plan_id) or {}
        same = after.model_dump(exclude={"version"}) == before.model_dump(exclude={"version"}) and all(
            raw.get(k) == v for k, v in extra.items()
        )
        if same:
            return  # only the row's state moves
        for item in self._plans.replace(before, after, extra):
            tx.add(item)
        tx.publish(
            REGISTRY.envelope(
                PlanUpdated(**_snapshot(after)),
                producer=PRODUCER,
                aggregate_id=after.plan_id,
                aggregate_version=after.version,
            )
        )
        tx.after_commit.append(self._forget(after.plan_id))

    async def _free_name(self, row: SubscriptionPlanRow, plan_id: str) -> str:
        """The legacy name, or the fallback name when another plan holds it (names are unique)."""
        names = (row.name, fallback_name(row))
        for name in names:
            if await self._plans.name_owner(name) in (None, plan_id):
                if name != row.name:
                    log.info("plan name %r is taken; importing legacy plan %s as %r", row.name, row.id, name)
                return name
        raise Quarantined(f"plan names {names[0]!r} and {names[1]!r} are both taken by other plans")

    def _forget(self, plan_id: str) -> Any:
        async def forget() -> None:
            self._plans.forget(plan_id)

        return forget

    def _delete_plan(self, change: LegacyChange, plan: Plan, tx: ImportTx) -> None:
        """Delete the plan; while users still count on it (their moves off it have not arrived),
        deactivate it instead (not offered, users keep their limits until they move). The delete is
        conditioned on no user counting on it, so a move that lands meanwhile cancels it (retried)."""
        tx.after_commit.append(self._forget(plan.plan_id))
        if plan.active_users <= 0:
            for item in self._plans.delete(plan):
                tx.add(item)
            tx.publish(
                REGISTRY.envelope(
                    PlanDeleted(plan_id=plan.plan_id),
                    producer=PRODUCER,
                    aggregate_id=plan.plan_id,
                    aggregate_version=plan.version + 1,
                )
            )
            return
        log.warning("legacy plan %s deleted but %d users count on it: deactivated", change.key, plan.active_users)
        if not plan.active:
            return
        after = plan.model_copy(update={"active": False, "version": plan.version + 1})
        for item in self._plans.replace(plan, after):
            tx.add(item)
        tx.publish(
            REGISTRY.envelope(
                PlanUpdated(**_snapshot(after)),
                producer=PRODUCER,
                aggregate_id=plan.plan_id,
                aggregate_version=after.version,
            )
        )

    # -- users (each user's plan) -------------------------------------------------------
    async def apply_user(self, change: LegacyChange, tx: ImportTx) -> None:
        user_id = legacy_user_id(change.key)
        tx.refs = {"user_id": user_id}
        if change.deleted:
            items, touched = await self._membership.change_items(
                user_id, 0, lambda cur: (cur.plan_id, False) if cur else None
            )
        else:
            row = change.typed()
            assert isinstance(row, UserRow)
            target = (user_plan(row.subscription_plan_id), row.is_active)
            items, touched = await self._membership.change_items(user_id, 0, lambda cur: target)
        for item in items:
            tx.add(item)
        for plan_id in touched:
            tx.after_commit.append(self._forget(plan_id))

    # -- usage_logs -------------------------------------------------------------------
    async def apply_usage(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        old = prior.refs if prior and prior.status != DELETED and prior.refs.get("pk") else None
        if change.deleted:
            if old is not None:
                self._remove_usage(tx, old, "legacy usage log deleted")
            tx.refs = old or {}
            return
        row = change.typed()
        assert isinstance(row, UsageLogRow)
        check_usage(row)
        user_id = legacy_user_id(row.user_id)
        day = day_of(row.created_at)
        request_id = usage_request_id(row.id)
        key = self._usage.legacy_log_key(user_id, day, row.created_at, row.action, request_id)
        ref = {
            "pk": key["pk"]["S"],
            "sk": key["sk"]["S"],
            "user_id": user_id,
            "day": day,
            "action": row.action,
            "request_id": request_id,
        }
        tx.add(
            self._usage.legacy_log_put(
                key,
                action=row.action,
                request_id=request_id,
                at=row.created_at,
                legacy={
                    "id": row.id,
                    "user_id": row.user_id,
                    "problem_id": row.problem_id,
                    "metadata": json.dumps(row.metadata, sort_keys=True, ensure_ascii=False),
                },
            )
        )
        counted_same = old is not None and old.get("day") == day and old.get("action") == row.action
        if old is not None and (old["pk"], old["sk"]) != (ref["pk"], ref["sk"]):
            tx.add(self._usage.delete_item({"pk": {"S": old["pk"]}, "sk": {"S": old["sk"]}}))
        if old is not None and not counted_same:
            self._remove_usage(tx, old, "legacy usage log changed", delete_log=False)
        if not counted_same:
            expires = int((row.created_at + timedelta(days=1)).timestamp()) + RETENTION_S
            tx.add(self._usage.counter_add(user_id, day, row.action, 1, expires))
            plan_id = await self._user_plans.plan_of(user_id) or "free"
            tx.publish(
                REGISTRY.envelope(
                    UsageConsumed(
                        user_id=user_id,
                        action=row.action,
                        request_id=request_id,
                        day=day,
                        at=row.created_at,
                        plan_id=plan_id,
                    ),
                    producer=PRODUCER,
                    aggregate_id=_charge_id(user_id, row.action, request_id),
                    aggregate_version=1,
                )
            )
        tx.refs = ref

    def _remove_usage(self, tx: ImportTx, old: dict[str, Any], reason: str, *, delete_log: bool = True) -> None:
        if delete_log:
            tx.add(self._usage.delete_item({"pk": {"S": old["pk"]}, "sk": {"S": old["sk"]}}))
        now = datetime.now(UTC)
        tx.add(
            self._usage.counter_add(old["user_id"], old["day"], old["action"], -1, int(now.timestamp()) + RETENTION_S)
        )
        tx.publish(
            REGISTRY.envelope(
                UsageRefunded(
                    user_id=old["user_id"],
                    action=old["action"],
                    request_id=old["request_id"],
                    day=old["day"],
                    at=now,
                    reason=reason,
                ),
                producer=PRODUCER,
                aggregate_id=_charge_id(old["user_id"], old["action"], old["request_id"]),
                aggregate_version=2,
            )
        )

    # -- verify -------------------------------------------------------------------------
    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        """The canonical legacy columns of imported rows, from ratelimit's own items."""
        rows = list(states)
        found: dict[str, dict[str, Any]] = {}
        if table == SUBSCRIPTION_PLANS.name:
            for row in rows:
                item = await self._plans.raw(legacy_plan_id(row.key))
                if item is not None and "legacy_id" in item:
                    found[row.key] = plan_columns(item)
        elif table == USERS.name:
            ids = {row.key: legacy_user_id(row.key) for row in rows}
            plans = await self._user_plans.plans_of(list(ids.values()))  # one page at once
            for key, user_id in ids.items():
                if (plan_id := plans.get(user_id)) is not None:
                    found[key] = {"id": int(key), "subscription_plan_id": legacy_plan_of(plan_id)}
        elif table == USAGE_LOGS.name:
            keys = [{"pk": {"S": r.refs["pk"]}, "sk": {"S": r.refs["sk"]}} for r in rows if r.refs.get("pk")]
            for item in await self._usage.items(keys):
                data = from_item(item)
                found[str(data.get("legacy_id"))] = usage_columns(data)
        return found
