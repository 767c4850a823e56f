"""Importing legacy users through accounts' own write path, as a handler of the platform's legacy
import kit (:mod:`algoitny_shared.legacy.row_importer`: once per row version, quarantine with the
reason, pause/resume, the internal API).

Each legacy ``users`` change becomes, in one transaction with the row's import state: the user
item and its e-mail and Google guards, and the events any other write of the same change publishes
(``UserRegistered`` with the legacy creation time, plan and role; ``UserRoleChanged``,
``UserPlanChanged``, ``UserDeactivated``/``UserReactivated`` for later changes). A legacy delete
removes the user and its guards and publishes ``UserDeactivated`` (gateways then refuse the user's
tokens, ratelimit stops counting them).

A duplicate e-mail (unique regardless of case on the new platform) or Google id is refused with the
reason: the guard is read before the write, and a guard taken between the read and the commit
cancels the transaction, which the kit retries from the read (that then sees it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.legacy import MappedUser, canonical_columns, map_user, new_user, same_user, updated_user
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
from algoitny_shared.legacy.row_importer import ImportTx, Quarantined, RowState
from algoitny_shared.legacy.rows import UserRow
from algoitny_shared.legacy.tables import USERS

log = logging.getLogger(__name__)
PRODUCER = "accounts"
IMPORTED_BY = "legacy-import"


class AccountsLegacyHandler:
    """The accounts service's legacy rows: ``users``."""

    service = "accounts"
    tables: tuple[str, ...] = (USERS.name,)

    def __init__(self, users: UserRepository, with_plan: Callable[[User], Awaitable[User]]) -> None:
        self._users = users
        self._with_plan = with_plan

    @staticmethod
    def links(change: LegacyChange) -> list[str]:
        """Rows with the same e-mail but for case compete for one account (the later one is
        refused): the importer applies them in their order within a batch, never side by side."""
        email = (change.row or {}).get("email")
        return [f"email:{email.casefold()}"] if isinstance(email, str) and email else []

    @staticmethod
    def _event(tx: ImportTx, payload: Any, user_id: str, version: int) -> None:
        tx.publish(REGISTRY.envelope(payload, producer=PRODUCER, aggregate_id=user_id, aggregate_version=version))

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        user_id = legacy_user_id(change.key)
        tx.refs = {"user_id": user_id}
        existing = await self._users.get(user_id)
        if change.deleted:
            self._delete(existing, tx)
            return
        row = change.typed()
        assert isinstance(row, UserRow)
        mapped = map_user(row)
        if existing is None:
            await self._create(row, mapped, tx)
        else:
            await self._update(existing, mapped, tx)

    async def _refuse_taken(self, user_id: str, email: str | None, google_id: str | None, row_email: str) -> None:
        """Quarantined with the reason when the e-mail or the Google id is another user's."""
        if email is not None:
            other = await self._users.by_email(email)
            if other is not None and other.user_id != user_id:
                owner = (other.legacy or {}).get("id")
                who = f"legacy user {owner}" if owner is not None else "another user"
                raise Quarantined(
                    f"duplicate e-mail: {row_email!r} is taken by {who} (e-mails are unique regardless of case "
                    "on the new platform; the user imported later is refused)"
                )
        if google_id:
            other = await self._users.by_google_id(google_id)
            if other is not None and other.user_id != user_id:
                raise Quarantined(f"duplicate Google id: {google_id!r} is linked to another user")

    async def _create(self, row: UserRow, mapped: MappedUser, tx: ImportTx) -> None:
        user = new_user(mapped, row)
        await self._refuse_taken(user.user_id, user.email, user.google_id, row.email)
        if not user.active:
            user = user.model_copy(update={"version": 2})
        user = await self._with_plan(user)
        for item in self._users.put_new(user):
            tx.add(item)
        self._event(
            tx,
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
                tx,
                UserDeactivated(user_id=user.user_id, deactivated_by=IMPORTED_BY, deactivated_at=row.updated_at),
                user.user_id,
                2,
            )

    async def _update(self, user: User, mapped: MappedUser, tx: ImportTx) -> None:
        after = updated_user(user, mapped)
        if same_user(user, after):
            return  # only the row's state moves
        await self._refuse_taken(
            user.user_id,
            after.email if after.email != user.email else None,
            after.google_id if after.google_id != user.google_id else None,
            after.email,
        )
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
        # The guards follow the e-mail and the Google id: the new ones claimed, the old ones released.
        if after.email != user.email:
            tx.add(self._users.claim_email(after.email, user.user_id))
            tx.add(self._users.release_email(user.email, user.user_id))
        if after.google_id != user.google_id:
            if after.google_id:
                tx.add(self._users.claim_google_id(after.google_id, user.user_id))
            if user.google_id:
                tx.add(self._users.release_google_id(user.google_id, user.user_id))
        tx.add(self._users.put_updated(after, user.version))
        for payload in events:
            self._event(tx, payload, user.user_id, after.version)

    def _delete(self, user: User | None, tx: ImportTx) -> None:
        if user is None:
            return
        for item in self._users.delete_items(user):
            tx.add(item)
        if user.active:
            self._event(
                tx,
                UserDeactivated(user_id=user.user_id, deactivated_by=IMPORTED_BY, deactivated_at=datetime.now(UTC)),
                user.user_id,
                user.version + 1,
            )

    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        """The canonical ``users`` columns of imported rows, from the users themselves."""
        ids = {state.key: str(state.refs.get("user_id") or legacy_user_id(state.key)) for state in states}
        users = await self._users.get_many(list(ids.values()))  # a digest page at once, not a read per row
        return {key: canonical_columns(users[uid]) for key, uid in ids.items() if uid in users}
