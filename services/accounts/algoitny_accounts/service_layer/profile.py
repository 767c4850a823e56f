"""The signed-in user's own account: read it, edit the profile, record consents."""

from __future__ import annotations

from algoitny_accounts.domain.users import Consent, ConsentKind, UpdateMeRequest, User, UserView, now_utc
from algoitny_accounts.service_layer.user_writes import UserWrites
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity


class ProfileService:
    def __init__(self, writes: UserWrites) -> None:
        self._w = writes
        self._users = writes.users

    async def _me(self, identity: Identity) -> User:
        if not identity.is_authenticated or identity.user_id is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to see your account")
        user = await self._users.get(identity.user_id)
        if user is None:
            raise AppError(ErrorCode.NOT_FOUND, "This account does not exist")
        if not user.active:
            raise AppError(ErrorCode.FORBIDDEN, "This account is deactivated")
        return user

    async def me(self, identity: Identity) -> UserView:
        return (await self._me(identity)).view()

    async def update_me(self, identity: Identity, patch: UpdateMeRequest) -> UserView:
        user = await self._me(identity)
        changes = patch.model_dump(exclude_unset=True, exclude_none=True)
        if not changes:
            return user.view()
        after = user.model_copy(update={**changes, "version": user.version + 1, "updated_at": now_utc()})
        return (await self._w.save(user, after)).view()

    async def consent(self, identity: Identity, kind: ConsentKind, version: str) -> UserView:
        user = await self._me(identity)
        consents = {**user.consents, kind: Consent(version=version, accepted_at=now_utc())}
        after = user.model_copy(update={"consents": consents, "version": user.version + 1, "updated_at": now_utc()})
        return (await self._w.save(user, after)).view()
