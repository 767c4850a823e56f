"""Sign-up and sign-in: password (throttled, timing-equalised), Google, and the seeded admin."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Histogram

from algoitny_accounts.adapters.google import GoogleIdentity, GoogleVerifier
from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.domain.passwords import check_password, hash_password, needs_rehash, policy_violations
from algoitny_accounts.domain.users import ADMIN_PLAN, DEFAULT_PLAN, TokenPair, User, normalise_email, now_utc
from algoitny_accounts.service_layer.sessions import SessionService
from algoitny_accounts.service_layer.user_writes import CONFLICT_RETRIES, UserWrites
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import UserRegistered, UserSessionsRevoked
from algoitny_shared.uow import TransactionConflict

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


class SignInService:
    def __init__(
        self,
        writes: UserWrites,
        sessions: SessionService,
        attempts: SignInAttempts,
        google: GoogleVerifier,
        throttle: ThrottlePolicy,
    ) -> None:
        self._w = writes
        self._users = writes.users
        self._uow = writes.uow
        self._sessions = sessions
        self._attempts = attempts
        self._google = google
        self._throttle = throttle

    async def _create(self, user: User, method: str) -> TokenPair:
        user = await self._w.with_plan(user)
        uow = self._uow()
        for item in self._users.put_new(user):
            uow.add(item)
        uow.publish(
            self._w.envelope(
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
            return await self._sessions.start_session(user, uow)
        except TransactionConflict as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise AppError(ErrorCode.ALREADY_EXISTS, "An account with this e-mail already exists") from exc
            if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed" and user.google_id:
                raise AppError(ErrorCode.ALREADY_EXISTS, "This Google account is already linked") from exc
            raise

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
        wait = await self._attempts.try_attempt(limits, now)
        if wait is not None:
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
        updated, events = self._w.promote(user, user.version)
        if needs_rehash(user.password_hash):
            new_hash = await asyncio.to_thread(hash_password, password)
            updated = updated.model_copy(update={"password_hash": new_hash, "version": user.version + 1})
        # Sign-in also catches the user up with their plan (a copy missed by a racing plan event).
        updated, moved = await self._w.off_deleted_plan(updated, user.version)
        updated = await self._w.with_plan(updated, user.version)
        if updated is not user:
            uow.add(self._users.put_updated(updated, user.version))
            self._w.publish_all(uow, [*events, *moved], updated)
        return await self._sessions.start_session(updated, uow)

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
            admin = self._w.admin_by_email(email, True)
            user = User.new(
                email,
                claims.name or email.split("@")[0],
                role="admin" if admin else "user",
                plan_id=ADMIN_PLAN if admin else DEFAULT_PLAN,
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
        linked, promoted = self._w.promote(linked, existing.version)
        linked, moved = await self._w.off_deleted_plan(linked, existing.version)
        linked = await self._w.with_plan(linked, existing.version)
        uow.add(self._users.put_updated(linked, existing.version))
        self._w.publish_all(uow, [*events, *promoted, *moved], linked)
        try:
            return await self._sessions.start_session(linked, uow)
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
        updated, events = self._w.promote(updated, user.version)
        updated, moved = await self._w.off_deleted_plan(updated, user.version)
        updated = await self._w.with_plan(updated, user.version)
        if updated is not user:
            uow.add(self._users.put_updated(updated, user.version))
            self._w.publish_all(uow, [*events, *moved], updated)
        try:
            return await self._sessions.start_session(updated, uow)
        except TransactionConflict as exc:
            raise AppError(ErrorCode.CONFLICT, "The account changed during sign-in; try again") from exc

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
