"""Sessions: access tokens, refresh-token families (rotation, reuse detection), sign-out."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any, Literal

from algoitny_accounts.adapters.refresh_tokens import RefreshTokenStore, StoredToken
from algoitny_accounts.domain.users import TokenPair, User
from algoitny_accounts.service_layer.user_writes import PRODUCER, UserWrites
from algoitny_shared import tokens as tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import SessionRevoked
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)


class SessionService:
    def __init__(
        self, writes: UserWrites, refresh_tokens: RefreshTokenStore, keys: tokens.SigningKeys, access_ttl_s: int
    ) -> None:
        self._w = writes
        self._users = writes.users
        self._uow = writes.uow
        self._tokens = refresh_tokens
        self._keys = keys
        self._ttl = access_ttl_s

    def jwks(self) -> dict[str, Any]:
        """The public keys of the access-token signing keys (current first), as a JWKS document."""
        return self._keys.jwks()

    def _access(self, user: User, session_id: str) -> str:
        token, _ = tokens.issue(
            self._keys,
            user_id=user.user_id,
            role=user.role,
            plan=user.plan_id,
            ttl_s=self._ttl,
            may_register=user.may_register,
            session_id=session_id,
            user_version=user.version,
        )
        return token

    def pair(self, user: User, refresh_token: str, session_id: str) -> TokenPair:
        return TokenPair(
            access_token=self._access(user, session_id),
            expires_in=self._ttl,
            refresh_token=refresh_token,
            refresh_expires_in=self._tokens.ttl_s,
            user=user.view(),
        )

    async def start_session(self, user: User, uow: DynamoUnitOfWork | None = None) -> TokenPair:
        uow = uow or self._uow()
        refresh, session_id, items = self._tokens.start_family(user.user_id, user.session_epoch)
        for item in items:
            uow.add(item)
        await self._w.commit(uow)
        return self.pair(user, refresh, session_id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        invalid = AppError(ErrorCode.UNAUTHENTICATED, "The refresh token is not valid")
        stored = await self._tokens.find(refresh_token)
        if stored is None or stored.expires_at < time.time():
            raise invalid
        if stored.used:
            await self._revoke_session(stored, "reuse")
            log.warning("refresh token reuse: family %s of user %s revoked", stored.family_id, stored.user_id)
            raise AppError(ErrorCode.UNAUTHENTICATED, "This refresh token was already used; the session is revoked")
        family = await self._tokens.family(stored.family_id)
        if family is None or family.revoked:
            raise AppError(ErrorCode.UNAUTHENTICATED, "This session has been revoked; sign in again")
        user = await self._users.get(stored.user_id)
        if user is None or not user.active:
            await self._revoke_session(stored, "deactivated")
            raise AppError(ErrorCode.UNAUTHENTICATED, "This account is deactivated")
        if family.epoch < user.session_epoch:
            raise AppError(ErrorCode.UNAUTHENTICATED, "This session has ended; sign in again")
        # A user still on a deleted plan (the deletion's fan-out has not reached them) goes back
        # to the default plan first: the new token must not carry the deleted plan's rights.
        if (await self._w.off_deleted_plan(user, user.version))[1]:
            await self._w.leave_deleted_plan(user.user_id, user.plan_id)
            user = await self._users.get(stored.user_id) or user
        successor, items = self._tokens.rotate(refresh_token, stored)
        uow = self._uow()
        for item in items:
            uow.add(item)
        try:
            await self._w.commit(uow)
        except TransactionConflict as exc:
            # Someone used this token at the same moment: that is reuse too.
            await self._revoke_session(stored, "reuse")
            raise AppError(
                ErrorCode.UNAUTHENTICATED, "This refresh token was already used; the session is revoked"
            ) from exc
        return self.pair(user, successor, stored.family_id)

    async def _revoke_session(self, stored: StoredToken, reason: Literal["logout", "reuse", "deactivated"]) -> None:
        """Revoke the token's family and tell the gateways, in one transaction."""
        uow = self._uow()
        uow.add(self._tokens.revoke_family(stored.family_id, reason))
        uow.publish(
            REGISTRY.envelope(
                SessionRevoked(
                    user_id=stored.user_id, session_id=stored.family_id, reason=reason, revoked_at=datetime.now(UTC)
                ),
                producer=PRODUCER,
                aggregate_id=stored.family_id,
                aggregate_version=1,
            )
        )
        try:
            await self._w.commit(uow)
        except TransactionConflict:
            log.warning("session %s of user %s not found to revoke", stored.family_id, stored.user_id)

    async def logout(self, refresh_token: str) -> None:
        stored = await self._tokens.find(refresh_token)
        if stored is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "The refresh token is not valid")
        await self._revoke_session(stored, "logout")
