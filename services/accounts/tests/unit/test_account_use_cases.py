"""Accounts' use cases on the in-memory unit of work (no moto server, no Kafka, no gateway):
sign-up, password and Google sign-in, sign-in throttling, refresh rotation and reuse, logout, the
profile and consents, admin changes and listings, the seeded admin, users leaving a deleted plan.
The repositories are the service's own, on an in-process DynamoDB; Google is a fake verifier."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo

from algoitny_accounts.adapters.google import GoogleIdentity
from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.refresh_tokens import RefreshTokenStore
from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.users import AdminUpdateRequest, UpdateMeRequest
from algoitny_accounts.service_layer.accounts import AccountUseCases, ThrottlePolicy
from algoitny_accounts.service_layer.plan_sync import PlanSync
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted
from algoitny_shared.identity import Identity

PASSWORD = "correct horse battery staple 9"
ADMIN_EMAIL = "boss@example.com"


class FakeGoogle:
    def __init__(self) -> None:
        self.identities: dict[str, GoogleIdentity] = {}

    def verify(self, id_token: str) -> GoogleIdentity:
        if id_token not in self.identities:
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Google ID token is not valid")
        return self.identities[id_token]


class Accounts:
    def __init__(self, store: Store) -> None:
        settings = AccountsSettings()
        self.store = store
        self.google = FakeGoogle()
        self.keys = settings.signing_keys()
        self.users = UserRepository(store.client, store.namespace)
        self.plans = PlanCopyRepository(store.client, store.namespace)
        self.service = AccountUseCases.wire(
            self.users,
            RefreshTokenStore(store.client, store.namespace, 3600),
            SignInAttempts(store.client, store.namespace, 900),
            self.google,  # type: ignore[arg-type]
            store.uow,  # type: ignore[arg-type]
            self.keys,
            900,
            [ADMIN_EMAIL],
            ThrottlePolicy(per_account=3, per_address=100),
            CursorCodec("c" * 32),
            self.plans,
        )
        self.sync = PlanSync(self.plans, self.users, self.service.writes.leave_deleted_plan)

    async def plan(self, plan_id: str, rev: int = 1, *, deleted: bool = False) -> None:
        if deleted:
            payload: Any = PlanDeleted(plan_id=plan_id)
            handler = self.sync.on_plan_deleted
        else:
            payload = PlanCreated(
                plan_id=plan_id,
                name=plan_id.title(),
                daily_limits={"execution": 7, "hint": 1},
                may_register_problems=False,
                may_view_all_problems=False,
                max_registered_problems=0,
                active=True,
            )
            handler = self.sync.on_plan_created
        await handler(
            REGISTRY.envelope(payload, producer="ratelimit", aggregate_id=plan_id, aggregate_version=rev), payload
        )

    def identity(self, pair: Any) -> Identity:
        claims = tokens.verify(self.keys, pair.access_token)
        return Identity(user_id=claims.sub, role=claims.role, plan=claims.plan)  # type: ignore[arg-type]


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("accounts") as found:
        yield found


@pytest.fixture
async def acc(store: Store) -> Accounts:
    acc = Accounts(store)
    await acc.plan("free")
    return acc


async def test_register_signs_in_and_publishes_one_registration(acc: Accounts) -> None:
    pair = await acc.service.sign_in.register(" Ann@Example.com ", PASSWORD, "Ann")
    assert pair.user.email == "ann@example.com" and pair.user.plan_id == "free" and pair.refresh_token
    claims = tokens.verify(acc.keys, pair.access_token)
    assert claims.sub == pair.user.user_id and claims.plan == "free"
    [registered] = acc.store.payloads("accounts.UserRegistered")
    assert registered.user_id == pair.user.user_id and registered.method == "password"
    with pytest.raises(AppError) as dup:
        await acc.service.sign_in.register("ann@example.com", PASSWORD, "Other")
    assert dup.value.code is ErrorCode.ALREADY_EXISTS
    with pytest.raises(AppError) as weak:
        await acc.service.sign_in.register("bob@example.com", "password", "Bob")
    assert weak.value.code is ErrorCode.VALIDATION_FAILED
    assert len(acc.store.payloads("accounts.UserRegistered")) == 1  # the refused ones wrote nothing


async def test_login_checks_the_password_and_throttles_failures_per_account(acc: Accounts) -> None:
    await acc.service.sign_in.register("ann@example.com", PASSWORD, "Ann")
    pair = await acc.service.sign_in.login("ANN@example.com", PASSWORD, "10.0.0.1")
    assert pair.user.email == "ann@example.com"
    for wrong in ("wrong password 1", "never@example.com"):
        with pytest.raises(AppError) as err:
            await acc.service.sign_in.login(wrong if "@" in wrong else "ann@example.com", "not it at all", "10.0.0.1")
        assert err.value.code is ErrorCode.UNAUTHENTICATED and "Wrong e-mail or password" in str(err.value)
    for _ in range(3):
        with pytest.raises(AppError):
            await acc.service.sign_in.login("ann@example.com", "not it at all", "10.0.0.2")
    with pytest.raises(AppError) as throttled:
        await acc.service.sign_in.login("ann@example.com", PASSWORD, "10.0.0.3")  # even the right one, for now
    assert throttled.value.code is ErrorCode.RATE_LIMITED and "Retry-After" in (throttled.value.headers or {})


async def test_refresh_rotates_and_a_reused_token_revokes_the_session(acc: Accounts) -> None:
    first = await acc.service.sign_in.register("ann@example.com", PASSWORD, "Ann")
    second = await acc.service.sessions.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    with pytest.raises(AppError) as reuse:
        await acc.service.sessions.refresh(first.refresh_token)
    assert reuse.value.code is ErrorCode.UNAUTHENTICATED and "already used" in str(reuse.value)
    [revoked] = acc.store.payloads("accounts.SessionRevoked")
    assert revoked.reason == "reuse" and revoked.user_id == first.user.user_id
    with pytest.raises(AppError) as ended:
        await acc.service.sessions.refresh(second.refresh_token)  # the whole family went with it
    assert ended.value.code is ErrorCode.UNAUTHENTICATED
    with pytest.raises(AppError):
        await acc.service.sessions.refresh("not-a-token")


async def test_logout_revokes_the_session(acc: Accounts) -> None:
    pair = await acc.service.sign_in.register("ann@example.com", PASSWORD, "Ann")
    await acc.service.sessions.logout(pair.refresh_token)
    assert [p.reason for p in acc.store.payloads("accounts.SessionRevoked")] == ["logout"]
    with pytest.raises(AppError) as err:
        await acc.service.sessions.refresh(pair.refresh_token)
    assert err.value.code is ErrorCode.UNAUTHENTICATED
    with pytest.raises(AppError):
        await acc.service.sessions.logout("not-a-token")


async def test_profile_and_consents(acc: Accounts) -> None:
    pair = await acc.service.sign_in.register("ann@example.com", PASSWORD, "Ann")
    me = acc.identity(pair)
    assert (await acc.service.profile.me(me)).name == "Ann"
    assert (await acc.service.profile.update_me(me, UpdateMeRequest(name="Ann B"))).name == "Ann B"
    assert (await acc.service.profile.update_me(me, UpdateMeRequest())).name == "Ann B"  # nothing to change
    view = await acc.service.profile.consent(me, "terms", "2026-01")
    assert view.consents["terms"].version == "2026-01"
    with pytest.raises(AppError) as anon:
        await acc.service.profile.me(Identity())
    assert anon.value.code is ErrorCode.UNAUTHENTICATED
    with pytest.raises(AppError) as missing:
        await acc.service.profile.me(Identity(user_id="nobody", role="user"))
    assert missing.value.code is ErrorCode.NOT_FOUND


async def test_admin_moves_demotes_deactivates_and_lists(acc: Accounts) -> None:
    admin, _ = await acc.service.sign_in.ensure_admin(ADMIN_EMAIL, PASSWORD)
    again, created = await acc.service.sign_in.ensure_admin(ADMIN_EMAIL, PASSWORD)
    assert not created and again.user_id == admin.user_id and admin.role == "admin"
    boss = Identity(user_id=admin.user_id, role="admin")
    await acc.plan("pro")
    users = [await acc.service.sign_in.register(f"user{i}@example.com", PASSWORD, f"User {i}") for i in range(3)]
    target = users[0].user.user_id
    with pytest.raises(AppError) as unknown:
        await acc.service.admin.admin_update(boss, target, AdminUpdateRequest(plan_id="gold"))
    assert unknown.value.code is ErrorCode.NOT_FOUND
    moved = await acc.service.admin.admin_update(boss, target, AdminUpdateRequest(plan_id="pro", role="admin"))
    assert moved.plan_id == "pro" and moved.role == "admin"
    [changed] = acc.store.payloads("accounts.UserPlanChanged")
    assert (changed.plan_id, changed.previous_plan_id, changed.changed_by) == ("pro", "free", admin.user_id)
    assert acc.store.payloads("accounts.UserRoleChanged")[-1].role == "admin"
    off = await acc.service.admin.admin_update(boss, target, AdminUpdateRequest(active=False))
    assert not off.active and acc.store.payloads("accounts.UserDeactivated")[0].user_id == target
    with pytest.raises(AppError) as gone:
        await acc.service.sign_in.login("user0@example.com", PASSWORD, None)
    assert gone.value.code is ErrorCode.FORBIDDEN
    await acc.service.admin.admin_update(boss, target, AdminUpdateRequest(active=True))
    assert acc.store.payloads("accounts.UserReactivated")[0].user_id == target
    with pytest.raises(AppError) as self_demote:
        await acc.service.admin.admin_update(boss, admin.user_id, AdminUpdateRequest(role="user"))
    assert self_demote.value.code is ErrorCode.CONFLICT

    on_pro = await acc.service.admin.list_users("pro", None, 10)
    assert [u.user_id for u in on_pro.items] == [target] and on_pro.next_cursor is None
    seen: list[str] = []
    cursor = None
    while True:
        page = await acc.service.admin.list_users(None, cursor, 2)
        seen += [u.user_id for u in page.items]
        if not (cursor := page.next_cursor):
            break
    assert len(seen) == len(set(seen)) == 4
    found = await acc.service.admin.search_users("USER", None, None, 10)
    assert {u.email for u in found.items} == {f"user{i}@example.com" for i in range(3)}
    by_name = await acc.service.admin.search_users("user 1", "name", None, 10)
    assert [u.email for u in by_name.items] == ["user1@example.com"]
    with pytest.raises(AppError) as bad:
        await acc.service.admin.list_users("pro", "forged-cursor", 10)
    assert bad.value.code is ErrorCode.INVALID_CURSOR


async def test_users_leave_a_deleted_plan_and_sign_in_on_the_default_one(acc: Accounts) -> None:
    await acc.plan("team")
    admin, _ = await acc.service.sign_in.ensure_admin(ADMIN_EMAIL, PASSWORD)
    ann = await acc.service.sign_in.register("ann@example.com", PASSWORD, "Ann")
    boss = Identity(user_id=admin.user_id, role="admin")
    await acc.service.admin.admin_update(boss, ann.user.user_id, AdminUpdateRequest(plan_id="team"))
    await acc.plan("team", rev=2, deleted=True)
    assert (await acc.service.profile.me(acc.identity(ann))).plan_id == "free"
    assert acc.store.payloads("accounts.UserPlanChanged")[-1].previous_plan_id == "team"
    assert not await acc.service.writes.leave_deleted_plan(ann.user.user_id, "team")  # already off it
    pair = await acc.service.sign_in.login("ann@example.com", PASSWORD, None)
    assert tokens.verify(acc.keys, pair.access_token).plan == "free"


async def test_google_sign_up_link_and_refusals(acc: Accounts) -> None:
    acc.google.identities = {
        "new": GoogleIdentity(sub="g-1", email="gina@example.com", email_verified=True, name="Gina"),
        "unverified": GoogleIdentity(sub="g-2", email="ugo@example.com", email_verified=False),
        "link": GoogleIdentity(sub="g-3", email="ann@example.com", email_verified=True, name="Ann G"),
        "other": GoogleIdentity(sub="g-4", email="ann@example.com", email_verified=True),
        "boss": GoogleIdentity(sub="g-5", email=ADMIN_EMAIL, email_verified=True),
    }
    gina = await acc.service.sign_in.google("new")
    assert gina.user.email == "gina@example.com" and gina.user.role == "user"
    assert (await acc.service.sign_in.google("new")).user.user_id == gina.user.user_id  # signs in again
    with pytest.raises(AppError) as unverified:
        await acc.service.sign_in.google("unverified")
    assert unverified.value.code is ErrorCode.FORBIDDEN
    # An unverified password sign-up with the address: Google's verified owner takes the account
    # over, the password goes and every earlier session ends.
    squatter = await acc.service.sign_in.register("ann@example.com", PASSWORD, "Squatter")
    linked = await acc.service.sign_in.google("link")
    assert linked.user.user_id == squatter.user.user_id and linked.user.name == "Ann G"
    assert acc.store.payloads("accounts.UserSessionsRevoked")[0].reason == "verified_owner_linked"
    with pytest.raises(AppError):
        await acc.service.sign_in.login("ann@example.com", PASSWORD, None)
    with pytest.raises(AppError) as taken:
        await acc.service.sign_in.google("other")
    assert taken.value.code is ErrorCode.CONFLICT
    boss = await acc.service.sign_in.google("boss")
    assert boss.user.role == "admin"
    with pytest.raises(AppError):
        await acc.service.sign_in.google("forged")


async def test_a_legacy_user_is_found_by_its_legacy_id_with_its_plans_limits(acc: Accounts) -> None:
    """The import (accounts' legacy handler) copies the plan's limits through ``with_plan``; the
    admin lookup by legacy id finds the user (and 404 for a legacy id never imported)."""
    from support.legacy_tools import record, user_row
    from support.legacy_unit import unit_importer

    from algoitny_accounts.adapters.tables import ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE
    from algoitny_accounts.service_layer.legacy_import import AccountsLegacyHandler
    from algoitny_shared.legacy.identity import legacy_user_id

    handler = AccountsLegacyHandler(acc.users, acc.service.writes.with_plan)
    imp = unit_importer(acc.store, handler, ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE)
    assert await imp.handle("users", *record("users", user_row(31, "legacy@example.com"))) == "imported"
    view = await acc.service.admin.by_legacy_id(31)
    assert view.user_id == legacy_user_id(31) and view.email == "legacy@example.com" and view.plan_id == "free"
    stored = await acc.users.get(legacy_user_id(31))
    assert stored is not None and (stored.plan_limits or {}).get("daily_limits") == {"execution": 7, "hint": 1}
    with pytest.raises(AppError) as missing:
        await acc.service.admin.by_legacy_id(32)
    assert missing.value.code is ErrorCode.NOT_FOUND
