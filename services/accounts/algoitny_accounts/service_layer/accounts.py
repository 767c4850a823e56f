"""Use cases of the accounts service: register users, issue access tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.users import Role, TokenResponse, User, check_password, hash_password
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import UserRegistered
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

PRODUCER = "accounts"
# Checked against when the e-mail is unknown, so both paths cost one scrypt (no timing oracle).
_DUMMY_HASH = hash_password("timing-equaliser")


class AccountService:
    def __init__(
        self, users: UserRepository, uow_factory: Callable[[], DynamoUnitOfWork], token_secret: str, token_ttl_s: int
    ) -> None:
        self._users = users
        self._uow = uow_factory
        self._secret = token_secret
        self._ttl = token_ttl_s

    async def register(self, email: str, display_name: str, role: Role, plan_id: str, password: str | None) -> User:
        user = await asyncio.to_thread(User.new, email, display_name, role, plan_id, password)
        uow = self._uow()
        for item in self._users.put_new(user):
            uow.add(item)
        uow.publish(
            REGISTRY.envelope(
                UserRegistered(
                    user_id=user.user_id, role=user.role, plan_id=user.plan_id, registered_at=user.created_at
                ),
                producer=PRODUCER,
                aggregate_id=user.user_id,
                aggregate_version=1,
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            raise AppError(ErrorCode.ALREADY_EXISTS, "An account with this e-mail already exists") from exc
        return user

    async def ensure_admin(self, email: str, password: str) -> tuple[User, bool]:
        """The demo admin: created once, left alone afterwards. Returns (user, created)."""
        existing = await self._users.by_email(email)
        if existing:
            return existing, False
        try:
            return await self.register(email, "Admin", "admin", "admin", password), True
        except AppError:
            found = await self._users.by_email(email)
            if found is None:
                raise
            return found, False

    async def issue_token(self, email: str, password: str) -> TokenResponse:
        user = await self._users.by_email(email)
        ok = await asyncio.to_thread(
            check_password, password, user.password_hash if user and user.password_hash else _DUMMY_HASH
        )
        if not user or not user.password_hash or not ok:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Wrong e-mail or password")
        token = tokens.issue(self._secret, user_id=user.user_id, role=user.role, plan=user.plan_id, ttl_s=self._ttl)
        return TokenResponse(access_token=token, expires_in=self._ttl, user_id=user.user_id, role=user.role)
