"""The accounts service's use cases, one module per concern, wired together here:
sign-up and sign-in (:mod:`.sign_in`), sessions and tokens (:mod:`.sessions`), the user's own
profile (:mod:`.profile`), user administration (:mod:`.user_admin`); what they share to write a
user (:mod:`.user_writes`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from algoitny_accounts.adapters.google import GoogleVerifier
from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.refresh_tokens import RefreshTokenStore
from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.service_layer.profile import ProfileService
from algoitny_accounts.service_layer.sessions import SessionService
from algoitny_accounts.service_layer.sign_in import SignInService, ThrottlePolicy
from algoitny_accounts.service_layer.user_admin import UserAdminService
from algoitny_accounts.service_layer.user_writes import UserWrites
from algoitny_shared import tokens
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.uow import DynamoUnitOfWork

__all__ = ["AccountUseCases", "ThrottlePolicy"]


@dataclass(frozen=True)
class AccountUseCases:
    writes: UserWrites
    sessions: SessionService
    sign_in: SignInService
    profile: ProfileService
    admin: UserAdminService

    @classmethod
    def wire(
        cls,
        users: UserRepository,
        refresh_tokens: RefreshTokenStore,
        attempts: SignInAttempts,
        google: GoogleVerifier,
        uow_factory: Callable[[], DynamoUnitOfWork],
        keys: tokens.SigningKeys,
        access_ttl_s: int,
        admin_emails: Sequence[str],
        throttle: ThrottlePolicy,
        cursors: CursorCodec,
        plans: PlanCopyRepository,
    ) -> AccountUseCases:
        writes = UserWrites(users, uow_factory, plans, admin_emails)
        sessions = SessionService(writes, refresh_tokens, keys, access_ttl_s)
        return cls(
            writes=writes,
            sessions=sessions,
            sign_in=SignInService(writes, sessions, attempts, google, throttle),
            profile=ProfileService(writes),
            admin=UserAdminService(writes, cursors),
        )
