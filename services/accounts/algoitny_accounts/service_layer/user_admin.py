"""Administration of users: search and list, plan/role/activation changes, legacy lookups."""

from __future__ import annotations

from typing import Any

from algoitny_accounts.domain.users import (
    AdminUpdateRequest,
    Role,
    SearchField,
    UserPage,
    UserView,
    name_key,
    normalise_email,
    now_utc,
)
from algoitny_accounts.service_layer.user_writes import UserWrites
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import UserDeactivated, UserPlanChanged, UserReactivated, UserRoleChanged
from algoitny_shared.identity import Identity


class UserAdminService:
    def __init__(self, writes: UserWrites, cursors: CursorCodec) -> None:
        self._w = writes
        self._users = writes.users
        self._cursors = cursors

    async def search_users(self, query: str, field: SearchField | None, cursor: str | None, limit: int) -> UserPage:
        """AP-11: users whose e-mail or name starts with ``query`` (case-insensitive), from the prefix
        indexes: e-mail matches first (by e-mail), then name matches (by name) not already listed."""
        fields: list[SearchField] = [field] if field else ["email", "name"]
        scope = f"search:{','.join(fields)}:{name_key(query)}"
        phase, start = 0, None
        if cursor:
            position = self._cursors.decode(cursor, scope)
            key, at = position.get("k"), position.get("ph")
            if not isinstance(at, int) or not 0 <= at < len(fields) or not isinstance(key, dict):
                raise AppError(ErrorCode.INVALID_CURSOR, "The cursor is malformed")
            if not all(isinstance(v, str) for v in key.values()):
                raise AppError(ErrorCode.INVALID_CURSOR, "The cursor is malformed")
            phase, start = at, (to_item(key) if key else None)
        email_prefix = normalise_email(query)
        found: list[UserView] = []
        last: dict[str, Any] | None = None
        while phase < len(fields) and len(found) < limit:
            prefix = email_prefix if fields[phase] == "email" else name_key(query)
            users, last = await self._users.search(fields[phase], prefix, limit - len(found), start)
            for user in users:
                # In the name phase, skip users the e-mail phase already listed.
                if fields[phase] == "name" and len(fields) == 2 and user.email.startswith(email_prefix):
                    continue
                found.append(user.view())
            if last is None:
                phase, start = phase + 1, None
            else:
                start = last
        if phase >= len(fields):
            return UserPage(items=found, next_cursor=None)
        position = {"ph": phase, "k": from_item(start) if start else {}}
        return UserPage(items=found, next_cursor=self._cursors.encode(position, scope))

    async def list_users(self, plan_id: str | None, cursor: str | None, limit: int) -> UserPage:
        scope = f"users:{plan_id or '*'}"
        start = None
        if cursor:
            position = self._cursors.decode(cursor, scope)
            if not all(isinstance(v, str) for v in position.values()):
                raise AppError(ErrorCode.INVALID_CURSOR, "The cursor is malformed")
            start = to_item(position)
        users, last = await self._users.list(plan_id, limit, start)
        next_cursor = self._cursors.encode(from_item(last), scope) if last else None
        return UserPage(items=[u.view() for u in users], next_cursor=next_cursor)

    async def admin_update(self, admin: Identity, user_id: str, patch: AdminUpdateRequest) -> UserView:
        user = await self._users.get(user_id)
        if user is None:
            raise AppError(ErrorCode.NOT_FOUND, "This user does not exist")
        if user_id == admin.user_id and (patch.active is False or patch.role == "user"):
            raise AppError(ErrorCode.CONFLICT, "Admins cannot deactivate or demote themselves")
        now = now_utc()
        by = admin.user_id
        update: dict[str, Any] = {}
        events: list[Any] = []
        checks: list[dict[str, Any]] = []
        if patch.plan_id is not None and patch.plan_id != user.plan_id:
            checks.append(await self._w.known_plan(patch.plan_id))
            update.update(plan_id=patch.plan_id, plan_limits=None, plan_rev=0)
            events.append(
                UserPlanChanged(
                    user_id=user_id, plan_id=patch.plan_id, previous_plan_id=user.plan_id, changed_by=by, changed_at=now
                )
            )
        if patch.role is not None and patch.role != user.role:
            role: Role = patch.role
            update["role"] = role
            events.append(
                UserRoleChanged(user_id=user_id, role=role, previous_role=user.role, changed_by=by, changed_at=now)
            )
        if patch.active is not None and patch.active != user.active:
            update["active"] = patch.active
            events.append(
                UserReactivated(user_id=user_id, reactivated_by=by, reactivated_at=now)
                if patch.active
                else UserDeactivated(user_id=user_id, deactivated_by=by, deactivated_at=now)
            )
        if not update:
            return user.view()
        after = user.model_copy(update={**update, "version": user.version + 1, "updated_at": now})
        if "plan_id" in update:
            after = await self._w.with_plan(after, user.version)
        return (await self._w.save(user, after, events, checks)).view()

    async def legacy_export(self, user_id: str) -> dict[str, Any]:
        """The user as the legacy application's users row (the reverse writer of issue 16)."""
        from algoitny_accounts.domain.legacy import legacy_export

        user = await self._users.get(user_id)
        if user is None:
            raise AppError(ErrorCode.NOT_FOUND, f"No user {user_id}")
        return legacy_export(user)

    async def by_legacy_id(self, legacy_id: int) -> UserView:
        """The user imported from legacy user ``legacy_id`` (deterministic id, no lookup table)."""
        from algoitny_shared.legacy.identity import legacy_user_id

        user = await self._users.get(legacy_user_id(legacy_id))
        if user is None:
            raise AppError(ErrorCode.NOT_FOUND, f"No user was imported from legacy user {legacy_id}")
        return user.view()
