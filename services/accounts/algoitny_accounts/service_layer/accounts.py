"""Use cases of the accounts service: sign-up, sign-in (password, Google), sessions, profiles, admin."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from prometheus_client import Histogram

from algoitny_accounts.adapters.google import GoogleIdentity, GoogleVerifier
from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.refresh_tokens import RefreshTokenStore, StoredToken
from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.passwords import check_password, hash_password, needs_rehash, policy_violations
from algoitny_accounts.domain.users import (
    ADMIN_PLAN,
    DEFAULT_PLAN,
    AdminUpdateRequest,
    Consent,
    ConsentKind,
    Role,
    SearchField,
    TokenPair,
    UpdateMeRequest,
    User,
    UserPage,
    UserView,
    name_key,
    normalise_email,
    now_utc,
)
from algoitny_shared import tokens
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import (
    SessionRevoked,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
    UserRoleChanged,
    UserSessionsRevoked,
)
from algoitny_shared.identity import Identity
from algoitny_shared.uow import CONFLICT_RETRY, DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)
PRODUCER = "accounts"
CONFLICT_RETRIES = 4
# Sign-in's deliberate cost, watched (argon2id's time on this hardware) and taken out of the load
# benchmark's comparison with bare DynamoDB calls.
PASSWORD_CHECK_SECONDS = Histogram(
    "algoitny_accounts_password_check_seconds",
    "One password verification at sign-in (argon2id, slow on purpose), thread hand-off included",
    buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56),
)
# Checked when the e-mail is unknown, so both paths cost one argon2 verification (no timing oracle).
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")
WRONG_CREDENTIALS = "Wrong e-mail or password"


@dataclass(frozen=True)
class ThrottlePolicy:
    per_account: int
    per_address: int


class AccountService:
    def __init__(
        self,
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
    ) -> None:
        self._plans = plans
        self._users = users
        self._tokens = refresh_tokens
        self._attempts = attempts
        self._google = google
        self._uow = uow_factory
        self._keys = keys
        self._ttl = access_ttl_s
        self._admin_emails = frozenset(normalise_email(e) for e in admin_emails)
        self._throttle = throttle
        self._cursors = cursors

    # ------------------------------------------------------------------ helpers

    def _envelope(self, payload: Any, user: User) -> Any:
        return REGISTRY.envelope(payload, producer=PRODUCER, aggregate_id=user.user_id, aggregate_version=user.version)

    def _publish_all(self, uow: DynamoUnitOfWork, payloads: Sequence[Any], user: User) -> None:
        """Publish a write's events with the version the write stores: gateways compare a token's
        user version with it (a role or plan change ends the powers of older tokens)."""
        for payload in payloads:
            uow.publish(self._envelope(payload, user))

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

    def _pair(self, user: User, refresh_token: str, session_id: str) -> TokenPair:
        return TokenPair(
            access_token=self._access(user, session_id),
            expires_in=self._ttl,
            refresh_token=refresh_token,
            refresh_expires_in=self._tokens.ttl_s,
            user=user.view(),
        )

    async def _commit(self, uow: DynamoUnitOfWork) -> None:
        """Commit, retrying when DynamoDB cancels for a concurrent transaction (not a failed condition)."""
        await uow.commit(retry=CONFLICT_RETRY)

    def _admin_by_email(self, email: str, verified: bool) -> bool:
        # Only a verified e-mail proves ownership: an unverified sign-up with an admin's address stays a user.
        return verified and email in self._admin_emails

    async def with_plan(self, user: User) -> User:
        """The user with the current limits of their plan (a write that sets the version itself)."""
        return await self._with_plan(user)

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

    async def _with_plan(self, user: User, original_version: int | None = None) -> User:
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

    async def _known_plan(self, plan_id: str) -> dict[str, Any]:
        """The plan must exist; returns the transaction item that re-checks it at commit time, so
        a delete that lands between this read and the user's write cannot leave the user on it."""
        plan = await self._plans.get(plan_id, fresh=True)
        if plan is None or not plan.exists:
            raise AppError(ErrorCode.NOT_FOUND, f"Plan {plan_id} does not exist")
        return self._plans.still_live(plan_id)

    async def _off_deleted_plan(self, user: User, original_version: int) -> tuple[User, list[Any]]:
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
        moved = await self._with_plan(moved, original_version)
        event = UserPlanChanged(
            user_id=user.user_id, plan_id=DEFAULT_PLAN, previous_plan_id=user.plan_id, changed_at=now
        )
        return moved, [event]

    async def leave_deleted_plan(self, user_id: str, plan_id: str) -> bool:
        """Move one user off a deleted plan (the fan-out of ``ratelimit.PlanDeleted``); True if moved."""
        for _ in range(CONFLICT_RETRIES):
            user = await self._users.get(user_id)
            if user is None or user.plan_id != plan_id:
                return False
            moved, events = await self._off_deleted_plan(user, user.version)
            if not events:
                return False
            uow = self._uow()
            uow.add(self._users.put_updated(moved, user.version))
            self._publish_all(uow, events, moved)
            try:
                await self._commit(uow)
                return True
            except TransactionConflict:
                continue  # the user changed meanwhile: read again
        return False

    def _promote(self, user: User, original_version: int) -> tuple[User, list[Any]]:
        """Admin e-mails from configuration become admins (role and plan) once the address is
        verified; returns the user and the events to publish with the version finally written."""
        if not self._admin_by_email(user.email, user.email_verified) or (
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

    async def _start_session(self, user: User, uow: DynamoUnitOfWork | None = None) -> TokenPair:
        uow = uow or self._uow()
        refresh, session_id, items = self._tokens.start_family(user.user_id, user.session_epoch)
        for item in items:
            uow.add(item)
        await self._commit(uow)
        return self._pair(user, refresh, session_id)

    async def _create(self, user: User, method: str) -> TokenPair:
        user = await self._with_plan(user)
        uow = self._uow()
        for item in self._users.put_new(user):
            uow.add(item)
        uow.publish(
            self._envelope(
                UserRegistered(
                    user_id=user.user_id,
                    role=user.role,
                    plan_id=user.plan_id,
                    registered_at=user.created_at,
                    method=method,
                ),
                user,
            )
        )
        try:
            return await self._start_session(user, uow)
        except TransactionConflict as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise AppError(ErrorCode.ALREADY_EXISTS, "An account with this e-mail already exists") from exc
            if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed" and user.google_id:
                raise AppError(ErrorCode.ALREADY_EXISTS, "This Google account is already linked") from exc
            raise

    # ------------------------------------------------------------------ sign-up and sign-in

    async def register(self, email: str, password: str, name: str) -> TokenPair:
        email = normalise_email(email)
        problems = policy_violations(password, email)
        if problems:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                "The password does not meet the policy",
                errors=[
                    {"loc": ["body", "password"], "msg": f"Password {p}", "type": "password_policy"} for p in problems
                ],
            )
        password_hash = await asyncio.to_thread(hash_password, password)
        return await self._create(User.new(email, name, password_hash=password_hash), "password")

    async def login(self, email: str, password: str, client_ip: str | None) -> TokenPair:
        email = normalise_email(email)
        keys = {"account": email, "address": client_ip or "unknown"}
        now = time.time()
        # Counted before the password is checked, in one conditional write per counter: parallel
        # attempts cannot all pass a check that a separate write records later.
        limits = {
            "account": (email, self._throttle.per_account),
            "address": (keys["address"], self._throttle.per_address),
        }
        if not await self._attempts.try_attempt(limits, now):
            wait = self._attempts.retry_after(time.time())
            raise AppError(
                ErrorCode.RATE_LIMITED,
                "Too many failed sign-ins; try again later",
                headers={"Retry-After": str(wait)},
                retry_after_s=wait,
            )
        user = await self._users.by_email(email)
        encoded = user.password_hash if user and user.password_hash else _DUMMY_HASH
        started = time.perf_counter()
        ok = await asyncio.to_thread(check_password, password, encoded)
        PASSWORD_CHECK_SECONDS.observe(time.perf_counter() - started)
        if not (user and user.password_hash and ok):
            raise AppError(ErrorCode.UNAUTHENTICATED, WRONG_CREDENTIALS)
        await self._attempts.forgive(keys, now)  # only failures stay counted
        checked_hash = user.password_hash
        for attempt in range(CONFLICT_RETRIES):
            if attempt:
                # The user changed meanwhile (e.g. a plan event's fan-out): sign in against the new
                # state, as long as the password that was checked is still the account's.
                fresh = await self._users.get(user.user_id)
                if fresh is None or fresh.password_hash != checked_hash:
                    raise AppError(ErrorCode.UNAUTHENTICATED, WRONG_CREDENTIALS)
                user = fresh
            if not user.active:
                raise AppError(ErrorCode.FORBIDDEN, "This account is deactivated")
            try:
                return await self._password_session(user, password)
            except TransactionConflict as exc:
                if attempt == CONFLICT_RETRIES - 1:
                    raise AppError(ErrorCode.CONFLICT, "The account changed during sign-in; try again") from exc
        raise AssertionError("unreachable")

    async def _password_session(self, user: User, password: str) -> TokenPair:
        assert user.password_hash is not None
        uow = self._uow()
        updated, events = self._promote(user, user.version)
        if needs_rehash(user.password_hash):
            new_hash = await asyncio.to_thread(hash_password, password)
            updated = updated.model_copy(update={"password_hash": new_hash, "version": user.version + 1})
        # Sign-in also catches the user up with their plan (a copy missed by a racing plan event).
        updated, moved = await self._off_deleted_plan(updated, user.version)
        updated = await self._with_plan(updated, user.version)
        if updated is not user:
            uow.add(self._users.put_updated(updated, user.version))
            self._publish_all(uow, [*events, *moved], updated)
        return await self._start_session(updated, uow)

    async def google(self, id_token: str) -> TokenPair:
        claims = await asyncio.to_thread(self._google.verify, id_token)
        user = await self._users.by_google_id(claims.sub)
        if user is not None:
            return await self._google_repeat(user, claims)
        email = normalise_email(claims.email)
        if not claims.email_verified:
            raise AppError(ErrorCode.FORBIDDEN, "Google has not verified this e-mail address")
        existing = await self._users.by_email(email)
        if existing is None:
            admin = self._admin_by_email(email, True)
            user = User.new(
                email,
                claims.name or email.split("@")[0],
                role="admin" if admin else "user",
                plan_id=ADMIN_PLAN if admin else "free",
                google_id=claims.sub,
                email_verified=True,
                picture=claims.picture,
            )
            return await self._create(user, "google")
        # Link by e-mail: Google verified the address, so its owner may attach Google to the account.
        if existing.google_id is not None:
            raise AppError(ErrorCode.CONFLICT, "This account is linked to another Google account")
        if not existing.active:
            raise AppError(ErrorCode.FORBIDDEN, "This account is deactivated")
        now = now_utc()
        update: dict[str, Any] = {
            "google_id": claims.sub,
            "email_verified": True,
            "picture": existing.picture or claims.picture,
            "version": existing.version + 1,
            "updated_at": now,
        }
        events: list[Any] = []
        if not existing.email_verified:
            # Whoever registered this address with a password never proved owning it (it may be an
            # attacker waiting for the owner): the password goes, and every earlier session ends.
            # Nor does anything they set stand for the owner: profile and consents start afresh.
            update.update(
                password_hash=None,
                session_epoch=existing.session_epoch + 1,
                name=claims.name or existing.name,
                picture=claims.picture,
                consents={},
            )
            events.append(UserSessionsRevoked(user_id=existing.user_id, reason="verified_owner_linked", revoked_at=now))
        linked = existing.model_copy(update=update)
        uow = self._uow()
        uow.add(self._users.claim_google_id(claims.sub, existing.user_id))
        linked, promoted = self._promote(linked, existing.version)
        linked, moved = await self._off_deleted_plan(linked, existing.version)
        linked = await self._with_plan(linked, existing.version)
        uow.add(self._users.put_updated(linked, existing.version))
        self._publish_all(uow, [*events, *promoted, *moved], linked)
        try:
            return await self._start_session(linked, uow)
        except TransactionConflict as exc:
            raise AppError(ErrorCode.CONFLICT, "The account changed during sign-in; try again") from exc

    async def _google_repeat(self, user: User, claims: GoogleIdentity) -> TokenPair:
        if not user.active:
            raise AppError(ErrorCode.FORBIDDEN, "This account is deactivated")
        uow = self._uow()
        updated = user
        fresh = {"name": claims.name or user.name, "picture": claims.picture or user.picture}
        if any(getattr(user, k) != v for k, v in fresh.items()):
            updated = user.model_copy(update={**fresh, "version": user.version + 1, "updated_at": now_utc()})
        updated, events = self._promote(updated, user.version)
        updated, moved = await self._off_deleted_plan(updated, user.version)
        updated = await self._with_plan(updated, user.version)
        if updated is not user:
            uow.add(self._users.put_updated(updated, user.version))
            self._publish_all(uow, [*events, *moved], updated)
        try:
            return await self._start_session(updated, uow)
        except TransactionConflict as exc:
            raise AppError(ErrorCode.CONFLICT, "The account changed during sign-in; try again") from exc

    # ------------------------------------------------------------------ sessions

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
        if (await self._off_deleted_plan(user, user.version))[1]:
            await self.leave_deleted_plan(user.user_id, user.plan_id)
            user = await self._users.get(stored.user_id) or user
        successor, items = self._tokens.rotate(refresh_token, stored)
        uow = self._uow()
        for item in items:
            uow.add(item)
        try:
            await self._commit(uow)
        except TransactionConflict as exc:
            # Someone used this token at the same moment: that is reuse too.
            await self._revoke_session(stored, "reuse")
            raise AppError(
                ErrorCode.UNAUTHENTICATED, "This refresh token was already used; the session is revoked"
            ) from exc
        return self._pair(user, successor, stored.family_id)

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
            await self._commit(uow)
        except TransactionConflict:
            log.warning("session %s of user %s not found to revoke", stored.family_id, stored.user_id)

    async def logout(self, refresh_token: str) -> None:
        stored = await self._tokens.find(refresh_token)
        if stored is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "The refresh token is not valid")
        await self._revoke_session(stored, "logout")

    # ------------------------------------------------------------------ the signed-in user

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

    async def _save(
        self, before: User, after: User, events: Sequence[Any] = (), checks: Sequence[dict[str, Any]] = ()
    ) -> User:
        uow = self._uow()
        uow.add(self._users.put_updated(after, before.version))
        for check in checks:  # after the user: a failed check's reason is at index 1 or later
            uow.add(check)
        self._publish_all(uow, events, after)
        try:
            await self._commit(uow)
        except TransactionConflict as exc:
            if "ConditionalCheckFailed" in exc.reasons[1 : 1 + len(checks)]:
                raise AppError(ErrorCode.NOT_FOUND, "The plan was deleted meanwhile") from exc
            raise AppError(ErrorCode.CONFLICT, "The account was changed concurrently; retry") from exc
        return after

    async def update_me(self, identity: Identity, patch: UpdateMeRequest) -> UserView:
        user = await self._me(identity)
        changes = patch.model_dump(exclude_unset=True, exclude_none=True)
        if not changes:
            return user.view()
        after = user.model_copy(update={**changes, "version": user.version + 1, "updated_at": now_utc()})
        return (await self._save(user, after)).view()

    async def consent(self, identity: Identity, kind: ConsentKind, version: str) -> UserView:
        user = await self._me(identity)
        consents = {**user.consents, kind: Consent(version=version, accepted_at=now_utc())}
        after = user.model_copy(update={"consents": consents, "version": user.version + 1, "updated_at": now_utc()})
        return (await self._save(user, after)).view()

    # ------------------------------------------------------------------ admin

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
            checks.append(await self._known_plan(patch.plan_id))
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
            after = await self._with_plan(after, user.version)
        return (await self._save(user, after, events, checks)).view()

    async def ensure_admin(self, email: str, password: str) -> tuple[User, bool]:
        """The demo admin from configuration (an operator vouches for the e-mail): created once."""
        existing = await self._users.by_email(email)
        if existing:
            return existing, False
        password_hash = await asyncio.to_thread(hash_password, password)
        user = User.new(email, "Admin", role="admin", plan_id=ADMIN_PLAN, password_hash=password_hash)
        user = user.model_copy(update={"email_verified": True})
        try:
            await self._create(user, "seed")
        except AppError:
            found = await self._users.by_email(email)
            if found is None:
                raise
            return found, False
        return user, True
