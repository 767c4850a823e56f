"""Importing legacy users through accounts' own write path (unit of work + outbox).

Each legacy ``users`` change becomes, in one transaction: the user item and its e-mail and
Google guards, the events any other write of the same change publishes (``UserRegistered``
with the legacy creation time, plan and role; ``UserRoleChanged``, ``UserPlanChanged``,
``UserDeactivated``/``UserReactivated`` for later changes) and the row's source position in
the import record (``LegacyImportStore.mark``). A legacy delete removes the user and its guards
and publishes ``UserDeactivated`` (gateways then refuse the user's tokens, ratelimit stops
counting them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.legacy import canonical_columns, map_user, new_user, same_user, updated_user
from algoitny_accounts.domain.users import User
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import (
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
    UserRoleChanged,
)
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.identity import legacy_user_id
from algoitny_shared.legacy.importer import AppliedRow, LegacyImporter, LegacyImportStore, LegacyRowRefused
from algoitny_shared.legacy.rows import UserRow
from algoitny_shared.legacy.tables import USERS
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)
PRODUCER = "accounts"
IMPORTED_BY = "legacy-import"
LEGACY_TABLES = (USERS,)


def email_link(row: dict[str, Any]) -> list[str]:
    """Rows with the same e-mail but for case compete for one account (the later one is refused):
    the importer applies them in their order, never side by side."""
    email = row.get("email")
    return [f"email:{email.casefold()}"] if isinstance(email, str) and email else []


class LegacyUserImport:
    def __init__(
        self,
        users: UserRepository,
        store: LegacyImportStore,
        uow_factory: Callable[[], DynamoUnitOfWork],
        with_plan: Callable[[User], Any],
    ) -> None:
        self._users = users
        self._store = store
        self._uow = uow_factory
        self._with_plan = with_plan

    def importer(self, **kwargs: Any) -> LegacyImporter:
        return LegacyImporter(self._store, {USERS.name: self.apply}, links={USERS.name: email_link}, **kwargs)

    @staticmethod
    def _event(uow: DynamoUnitOfWork, payload: Any, user_id: str, version: int) -> None:
        uow.publish(REGISTRY.envelope(payload, producer=PRODUCER, aggregate_id=user_id, aggregate_version=version))

    async def apply(self, change: LegacyChange, previous: AppliedRow | None) -> bool:
        user_id = legacy_user_id(change.key)
        existing = await self._users.get(user_id)
        if change.deleted:
            return await self._delete(change, previous, existing)
        row = change.typed()
        assert isinstance(row, UserRow)
        mapped = map_user(row)
        if existing is None:
            return await self._create(change, previous, row, mapped)
        return await self._update(change, previous, existing, mapped)

    async def _create(self, change: LegacyChange, previous: AppliedRow | None, row: UserRow, mapped: Any) -> bool:
        user = new_user(mapped, row)
        if not user.active:
            user = user.model_copy(update={"version": 2})
        user = await self._with_plan(user)
        uow = self._uow()
        guards = self._users.put_new(user)
        for item in guards:
            uow.add(item)
        for item in self._store.mark(change, previous, {"user_id": user.user_id}):
            uow.add(item)
        self._event(
            uow,
            UserRegistered(
                user_id=user.user_id,
                role=user.role,
                plan_id=user.plan_id,
                registered_at=user.created_at,
                method="legacy",
            ),
            user.user_id,
            1,
        )
        if not user.active:
            self._event(
                uow,
                UserDeactivated(user_id=user.user_id, deactivated_by=IMPORTED_BY, deactivated_at=row.updated_at),
                user.user_id,
                2,
            )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            reasons = exc.reasons
            if reasons and reasons[0] == "ConditionalCheckFailed":
                other = await self._users.by_email(user.email)
                owner = (other.legacy or {}).get("id") if other else None
                who = f"legacy user {owner}" if owner is not None else "another user"
                raise LegacyRowRefused(
                    f"duplicate e-mail: {row.email!r} is taken by {who} (e-mails are unique regardless of case "
                    "on the new platform; the user imported later is refused)"
                ) from exc
            if user.google_id and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise LegacyRowRefused(f"duplicate Google id: {user.google_id!r} is linked to another user") from exc
            raise
        return True

    async def _update(self, change: LegacyChange, previous: AppliedRow | None, user: User, mapped: Any) -> bool:
        after = updated_user(user, mapped)
        uow = self._uow()
        if same_user(user, after):
            for item in self._store.mark(change, previous, {"user_id": user.user_id}):
                uow.add(item)
            await uow.commit()
            return False
        after = after.model_copy(update={"version": user.version + 1, "updated_at": datetime.now(UTC)})
        if after.plan_id != user.plan_id:
            after = await self._with_plan(after)
        now = datetime.now(UTC)
        events: list[Any] = []
        if after.role != user.role:
            events.append(
                UserRoleChanged(
                    user_id=user.user_id,
                    role=after.role,
                    previous_role=user.role,
                    changed_by=IMPORTED_BY,
                    changed_at=now,
                )
            )
        if after.plan_id != user.plan_id:
            events.append(
                UserPlanChanged(
                    user_id=user.user_id,
                    plan_id=after.plan_id,
                    previous_plan_id=user.plan_id,
                    changed_by=IMPORTED_BY,
                    changed_at=now,
                )
            )
        if after.active != user.active:
            events.append(
                UserReactivated(user_id=user.user_id, reactivated_by=IMPORTED_BY, reactivated_at=now)
                if after.active
                else UserDeactivated(user_id=user.user_id, deactivated_by=IMPORTED_BY, deactivated_at=now)
            )
        # The guards follow the e-mail and the Google id: the new ones claimed (refused if taken).
        claims: list[str] = []
        if after.email != user.email:
            uow.add(self._users.claim_email(after.email, user.user_id))
            uow.add(self._users.release_email(user.email, user.user_id))
            claims.append("email")
        if after.google_id != user.google_id:
            if after.google_id:
                uow.add(self._users.claim_google_id(after.google_id, user.user_id))
                claims.append("google")
            if user.google_id:
                uow.add(self._users.release_google_id(user.google_id, user.user_id))
        uow.add(self._users.put_updated(after, user.version))
        for item in self._store.mark(change, previous, {"user_id": user.user_id}):
            uow.add(item)
        for payload in events:
            self._event(uow, payload, user.user_id, after.version)
        try:
            await uow.commit()
        except TransactionConflict as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed" and claims:
                what = "e-mail" if claims[0] == "email" else "Google id"
                raise LegacyRowRefused(
                    f"duplicate {what}: the changed {what} is taken by another user (unique regardless of case)"
                ) from exc
            raise
        return True

    async def _delete(self, change: LegacyChange, previous: AppliedRow | None, user: User | None) -> bool:
        uow = self._uow()
        if user is not None:
            for item in self._users.delete_items(user):
                uow.add(item)
            if user.active:
                self._event(
                    uow,
                    UserDeactivated(user_id=user.user_id, deactivated_by=IMPORTED_BY, deactivated_at=datetime.now(UTC)),
                    user.user_id,
                    user.version + 1,
                )
        for item in self._store.mark(change, previous, {"user_id": legacy_user_id(change.key)}, deleted=True):
            uow.add(item)
        await uow.commit()
        return user is not None

    async def rebuild(self, table: str, rows: list[AppliedRow]) -> dict[str, dict[str, Any]]:
        """The canonical ``users`` columns of imported rows, from the users themselves."""
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            user = await self._users.get(str(row.ref.get("user_id") or legacy_user_id(row.key)))
            if user is not None:
                found[row.key] = canonical_columns(user)
        return found
