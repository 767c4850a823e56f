"""Importing legacy plans, users' plans and usage logs through ratelimit's own write path.

Each change commits in one transaction with its events (``PlanCreated``/``PlanUpdated``/
``PlanDeleted``; ``UsageConsumed``/``UsageRefunded`` with the legacy time, so statistics
count legacy usage) and the row's source position (``LegacyImportStore.mark``).

A user's plan is owned by accounts (its events keep ``UserPlans``): the import of a ``users``
row writes ``UserPlans`` only while ratelimit has heard nothing from accounts of that user
(``PlanMembership.apply_change`` at version 0), with the same counter moves, so quotas are right
from the first moment and ``active_users`` stays exact whichever arrives first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
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
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted, PlanUpdated, UsageConsumed, UsageRefunded
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.identity import legacy_plan_id, legacy_user_id
from algoitny_shared.legacy.importer import AppliedRow, LegacyImporter, LegacyImportStore
from algoitny_shared.legacy.rows import SubscriptionPlanRow, UsageLogRow, UserRow
from algoitny_shared.legacy.tables import SUBSCRIPTION_PLANS, USAGE_LOGS, USERS
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)
PRODUCER = "ratelimit"
LEGACY_TABLES = (SUBSCRIPTION_PLANS, USERS, USAGE_LOGS)
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


class LegacyRatelimitImport:
    def __init__(
        self,
        plans: PlanRepository,
        usage: UsageRepository,
        user_plans: UserPlanRepository,
        membership: PlanMembership,
        store: LegacyImportStore,
        uow_factory: Callable[[], DynamoUnitOfWork],
    ) -> None:
        self._plans = plans
        self._usage = usage
        self._user_plans = user_plans
        self._membership = membership
        self._store = store
        self._uow = uow_factory

    def importer(self, **kwargs: Any) -> LegacyImporter:
        return LegacyImporter(
            self._store,
            {SUBSCRIPTION_PLANS.name: self.apply_plan, USERS.name: self.apply_user, USAGE_LOGS.name: self.apply_usage},
            **kwargs,
        )

    # -- subscription_plans ---------------------------------------------------------
    async def apply_plan(self, change: LegacyChange, previous: AppliedRow | None) -> bool:
        plan_id = legacy_plan_id(change.key)
        before = await self._plans.get(plan_id, fresh=True)
        if change.deleted:
            return await self._delete_plan(change, previous, before)
        row = change.typed()
        assert isinstance(row, SubscriptionPlanRow)
        map_plan(row)  # refuses what cannot be a plan
        names = [row.name, fallback_name(row)]
        for name in names:
            try:
                return await self._write_plan(change, previous, row, before, name)
            except TransactionConflict as exc:
                # The name guard is the second item of a creation and of a renaming update.
                name_taken = exc.reasons[1:2] == ["ConditionalCheckFailed"]
                if not name_taken or name == names[-1]:
                    raise
                log.info("plan name %r is taken; importing legacy plan %s as %r", row.name, row.id, names[-1])
        raise AssertionError("unreachable")

    async def _write_plan(
        self,
        change: LegacyChange,
        previous: AppliedRow | None,
        row: SubscriptionPlanRow,
        before: Plan | None,
        name: str,
    ) -> bool:
        uow = self._uow()
        extra = plan_extra(row)
        if before is None:
            plan = map_plan(row, name=name)
            for item in self._plans.put_new(plan, extra):
                uow.add(item)
            for item in self._store.mark(change, previous, {"plan_id": plan.plan_id}):
                uow.add(item)
            uow.publish(
                REGISTRY.envelope(
                    PlanCreated(**_snapshot(plan)), producer=PRODUCER, aggregate_id=plan.plan_id, aggregate_version=1
                )
            )
            await uow.commit()
            self._plans.forget(plan.plan_id)
            return True
        keep_name = before.name if before.name in (row.name, fallback_name(row)) else name
        after = map_plan(row, name=keep_name, active_users=before.active_users, version=before.version + 1)
        raw = await self._plans.raw(before.plan_id) or {}
        same = after.model_dump(exclude={"version"}) == before.model_dump(exclude={"version"}) and all(
            raw.get(k) == v for k, v in extra.items()
        )
        if same:
            for item in self._store.mark(change, previous, {"plan_id": before.plan_id}):
                uow.add(item)
            await uow.commit()
            return False
        for item in self._plans.replace(before, after, extra):
            uow.add(item)
        for item in self._store.mark(change, previous, {"plan_id": before.plan_id}):
            uow.add(item)
        uow.publish(
            REGISTRY.envelope(
                PlanUpdated(**_snapshot(after)),
                producer=PRODUCER,
                aggregate_id=after.plan_id,
                aggregate_version=after.version,
            )
        )
        await uow.commit()
        self._plans.forget(after.plan_id)
        return True

    async def _delete_plan(self, change: LegacyChange, previous: AppliedRow | None, plan: Plan | None) -> bool:
        """Delete the plan; while users still count on it (their moves off it have not arrived),
        deactivate it instead (not offered, users keep their limits until they move)."""
        ref = {"plan_id": legacy_plan_id(change.key)}
        uow = self._uow()
        if plan is None:
            for item in self._store.mark(change, previous, ref):
                uow.add(item)
            await uow.commit()
            return False
        for item in self._plans.delete(plan):
            uow.add(item)
        for item in self._store.mark(change, previous, ref):
            uow.add(item)
        uow.publish(
            REGISTRY.envelope(
                PlanDeleted(plan_id=plan.plan_id),
                producer=PRODUCER,
                aggregate_id=plan.plan_id,
                aggregate_version=plan.version + 1,
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            if exc.reasons[:1] != ["ConditionalCheckFailed"]:
                raise
            log.warning("legacy plan %s deleted but %d users count on it: deactivated", change.key, plan.active_users)
            after = plan.model_copy(update={"active": False, "version": plan.version + 1})
            uow = self._uow()
            for item in self._plans.replace(plan, after):
                uow.add(item)
            for item in self._store.mark(change, previous, ref):
                uow.add(item)
            uow.publish(
                REGISTRY.envelope(
                    PlanUpdated(**_snapshot(after)),
                    producer=PRODUCER,
                    aggregate_id=plan.plan_id,
                    aggregate_version=after.version,
                )
            )
            await uow.commit()
        self._plans.forget(plan.plan_id)
        return True

    # -- users (each user's plan) -------------------------------------------------------
    async def apply_user(self, change: LegacyChange, previous: AppliedRow | None) -> bool:
        user_id = legacy_user_id(change.key)
        mark = self._store.mark(change, previous, {"user_id": user_id})
        if change.deleted:
            await self._membership.apply_change(user_id, 0, lambda cur: (cur.plan_id, False) if cur else None, mark)
            return True
        row = change.typed()
        assert isinstance(row, UserRow)
        target = (user_plan(row.subscription_plan_id), row.is_active)
        await self._membership.apply_change(user_id, 0, lambda cur: target, mark)
        return True

    # -- usage_logs -------------------------------------------------------------------
    async def apply_usage(self, change: LegacyChange, previous: AppliedRow | None) -> bool:
        old = previous.ref if previous and not previous.deleted and previous.ref.get("pk") else None
        uow = self._uow()
        if change.deleted:
            if old is not None:
                self._remove_usage(uow, old, "legacy usage log deleted")
            for item in self._store.mark(change, previous, old or {}, deleted=True):
                uow.add(item)
            await uow.commit()
            return old is not None
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
        uow.add(
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
            uow.add(self._usage.delete_item({"pk": {"S": old["pk"]}, "sk": {"S": old["sk"]}}))
        if old is not None and not counted_same:
            self._remove_usage(uow, old, "legacy usage log changed", delete_log=False)
        if not counted_same:
            expires = int((row.created_at + timedelta(days=1)).timestamp()) + RETENTION_S
            uow.add(self._usage.counter_add(user_id, day, row.action, 1, expires))
            plan_id = await self._user_plans.plan_of(user_id) or "free"
            uow.publish(
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
        for item in self._store.mark(change, previous, ref):
            uow.add(item)
        await uow.commit()
        return True

    def _remove_usage(
        self, uow: DynamoUnitOfWork, old: dict[str, Any], reason: str, *, delete_log: bool = True
    ) -> None:
        if delete_log:
            uow.add(self._usage.delete_item({"pk": {"S": old["pk"]}, "sk": {"S": old["sk"]}}))
        now = datetime.now(UTC)
        uow.add(
            self._usage.counter_add(old["user_id"], old["day"], old["action"], -1, int(now.timestamp()) + RETENTION_S)
        )
        uow.publish(
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
    async def rebuild(self, table: str, rows: list[AppliedRow]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        if table == SUBSCRIPTION_PLANS.name:
            for row in rows:
                item = await self._plans.raw(legacy_plan_id(row.key))
                if item is not None and "legacy_id" in item:
                    found[row.key] = plan_columns(item)
        elif table == USERS.name:
            for row in rows:
                plan_id = await self._user_plans.plan_of(legacy_user_id(row.key))
                if plan_id is not None:
                    found[row.key] = {"id": int(row.key), "subscription_plan_id": legacy_plan_of(plan_id)}
        elif table == USAGE_LOGS.name:
            keys = [{"pk": {"S": r.ref["pk"]}, "sk": {"S": r.ref["sk"]}} for r in rows if r.ref.get("pk")]
            from algoitny_shared.dynamo import from_item

            for item in await self._usage.items(keys):
                data = from_item(item)
                found[str(data.get("legacy_id"))] = usage_columns(data)
        return found
