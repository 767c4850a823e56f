"""What every account use case writes with: a user's changes with their events in one transaction,
the user's plan limits caught up, admin promotion from configuration, a deleted plan left."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.users import ADMIN_PLAN, DEFAULT_PLAN, User, normalise_email, now_utc
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import UserPlanChanged, UserRoleChanged
from algoitny_shared.uow import CONFLICT_RETRY, DynamoUnitOfWork, TransactionConflict

PRODUCER = "accounts"
CONFLICT_RETRIES = 4


class UserWrites:
    def __init__(
        self,
        users: UserRepository,
        uow_factory: Callable[[], DynamoUnitOfWork],
        plans: PlanCopyRepository,
        admin_emails: Sequence[str],
    ) -> None:
        self.users = users
        self.uow = uow_factory
        self._plans = plans
        self._admin_emails = frozenset(normalise_email(e) for e in admin_emails)

    def envelope(self, payload: Any, user: User) -> Any:
        return REGISTRY.envelope(payload, producer=PRODUCER, aggregate_id=user.user_id, aggregate_version=user.version)

    def publish_all(self, uow: DynamoUnitOfWork, payloads: Sequence[Any], user: User) -> None:
        """Publish a write's events with the version the write stores: gateways compare a token's
        user version with it (a role or plan change ends the powers of older tokens)."""
        for payload in payloads:
            uow.publish(self.envelope(payload, user))

    async def commit(self, uow: DynamoUnitOfWork) -> None:
        """Commit, retrying when DynamoDB cancels for a concurrent transaction (not a failed condition)."""
        await uow.commit(retry=CONFLICT_RETRY)

    def admin_by_email(self, email: str, verified: bool) -> bool:
        # Only a verified e-mail proves ownership: an unverified sign-up with an admin's address stays a user.
        return verified and email in self._admin_emails

    async def with_plan(self, user: User, original_version: int | None = None) -> User:
        """The user with the limits of their plan as accounts knows it now (copied from plan events).

        Unchanged if the copy is no newer than the user's; otherwise ``version`` becomes
        ``original_version + 1`` (the version the write checks, plus one).
        """
        plan = await self._plans.get(user.plan_id)
        if plan is None or not plan.exists or plan.rev < user.plan_rev:
            return user
        if plan.rev == user.plan_rev and user.plan_limits == plan.limits():
            return user
        update: dict[str, Any] = {"plan_limits": plan.limits(), "plan_rev": plan.rev}
        if original_version is not None:
            update["version"] = original_version + 1
        return user.model_copy(update=update)

    async def known_plan(self, plan_id: str) -> dict[str, Any]:
        """The plan must exist; returns the transaction item that re-checks it at commit time, so
        a delete that lands between this read and the user's write cannot leave the user on it."""
        plan = await self._plans.get(plan_id, fresh=True)
        if plan is None or not plan.exists:
            raise AppError(ErrorCode.NOT_FOUND, f"Plan {plan_id} does not exist")
        return self._plans.still_live(plan_id)

    async def off_deleted_plan(self, user: User, original_version: int) -> tuple[User, list[Any]]:
        """A user whose plan was deleted (ratelimit charges them by the default plan) is put back on
        the default plan, so no token carries a deleted plan's rights (sign-in and refresh catch up
        a user the plan-deletion fan-out missed)."""
        if user.plan_id in (DEFAULT_PLAN, ADMIN_PLAN):
            return user, []
        # The cached copy (seconds old at most) is enough: the process that applied the deletion
        # dropped its cache entry, so the fan-out itself always sees the tombstone.
        plan = await self._plans.get(user.plan_id)
        if plan is None or plan.exists:
            return user, []
        now = now_utc()
        moved = user.model_copy(
            update={
                "plan_id": DEFAULT_PLAN,
                "plan_limits": None,
                "plan_rev": 0,
                "version": original_version + 1,
                "updated_at": now,
            }
        )
        moved = await self.with_plan(moved, original_version)
        event = UserPlanChanged(
            user_id=user.user_id, plan_id=DEFAULT_PLAN, previous_plan_id=user.plan_id, changed_at=now
        )
        return moved, [event]

    async def leave_deleted_plan(self, user_id: str, plan_id: str) -> bool:
        """Move one user off a deleted plan (the fan-out of ``ratelimit.PlanDeleted``); True if moved."""
        for _ in range(CONFLICT_RETRIES):
            user = await self.users.get(user_id)
            if user is None or user.plan_id != plan_id:
                return False
            moved, events = await self.off_deleted_plan(user, user.version)
            if not events:
                return False
            uow = self.uow()
            uow.add(self.users.put_updated(moved, user.version))
            self.publish_all(uow, events, moved)
            try:
                await self.commit(uow)
                return True
            except TransactionConflict:
                continue  # the user changed meanwhile: read again
        return False

    def promote(self, user: User, original_version: int) -> tuple[User, list[Any]]:
        """Admin e-mails from configuration become admins (role and plan) once the address is
        verified; returns the user and the events to publish with the version finally written."""
        if not self.admin_by_email(user.email, user.email_verified) or (
            user.role == "admin" and user.plan_id == ADMIN_PLAN
        ):
            return user, []
        now = now_utc()
        promoted = user.model_copy(
            update={"role": "admin", "plan_id": ADMIN_PLAN, "version": original_version + 1, "updated_at": now}
        )
        if user.plan_id != ADMIN_PLAN:
            promoted = promoted.model_copy(update={"plan_limits": None, "plan_rev": 0})
        events: list[Any] = []
        if user.role != "admin":
            events.append(UserRoleChanged(user_id=user.user_id, role="admin", previous_role=user.role, changed_at=now))
        if user.plan_id != ADMIN_PLAN:
            events.append(
                UserPlanChanged(user_id=user.user_id, plan_id=ADMIN_PLAN, previous_plan_id=user.plan_id, changed_at=now)
            )
        return promoted, events

    async def save(
        self, before: User, after: User, events: Sequence[Any] = (), checks: Sequence[dict[str, Any]] = ()
    ) -> User:
        uow = self.uow()
        uow.add(self.users.put_updated(after, before.version))
        for check in checks:  # after the user: a failed check's reason is at index 1 or later
            uow.add(check)
        self.publish_all(uow, events, after)
        try:
            await self.commit(uow)
        except TransactionConflict as exc:
            if "ConditionalCheckFailed" in exc.reasons[1 : 1 + len(checks)]:
                raise AppError(ErrorCode.NOT_FOUND, "The plan was deleted meanwhile") from exc
            raise AppError(ErrorCode.CONFLICT, "The account was changed concurrently; retry") from exc
        return after
