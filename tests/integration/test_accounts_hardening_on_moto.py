"""Accounts on moto, issue 23: the service-level halves of items 3, 9, 10 and 17 (the e2e
tests in tests/e2e/test_accounts_hardening_e2e.py drive the same attacks through the gateway)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from support.outbox_tools import CommittedOutbox

from algoitny_accounts.adapters.google import GoogleIdentity
from algoitny_accounts.bootstrap import Container, build
from algoitny_accounts.domain.users import AdminUpdateRequest
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted
from algoitny_shared.identity import Identity

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
ADMIN = Identity(user_id="operator", role="admin", plan="admin")
OWNER = "owner@hardening.dev"


class FakeGoogle:
    """Stands in for the ID-token verifier: the token is the subject, the address is fixed."""

    configured = True

    def __init__(self, email: str) -> None:
        self.email = email

    def verify(self, id_token: str) -> GoogleIdentity:
        return GoogleIdentity(sub=id_token, email=self.email, email_verified=True, name="Owner")


@pytest.fixture
async def accounts(provisioned: dict[str, Any]) -> Container:
    return build(
        AccountsSettings(
            consumers_enabled=False,
            admin_emails=[OWNER],
            signin_max_failures_per_account=3,
            signin_max_failures_per_address=100,
        )
    )


def _claims(c: Container, token: str) -> tokens.AccessClaims:
    return tokens.verify(c.settings.signing_keys(), token)


def _plan_env(payload: Any, pid: str, version: int) -> EventEnvelope:
    return REGISTRY.envelope(payload, producer="ratelimit", aggregate_id=pid, aggregate_version=version)


async def _deliver(c: Container, envelope: EventEnvelope) -> None:
    await c.plan_sync.handlers()[envelope.event_type](envelope, REGISTRY.decode(envelope))


async def _plan(c: Container, register: bool = True) -> str:
    pid = f"p{uuid.uuid4().hex[:8]}"
    snapshot = {
        "plan_id": pid,
        "name": f"Plan {pid}",
        "daily_limits": {"execution": 9},
        "may_register_problems": register,
        "may_view_all_problems": False,
        "max_registered_problems": 3,
        "active": True,
    }
    await _deliver(c, _plan_env(PlanCreated(**snapshot), pid, 1))
    return pid


async def test_linking_an_unverified_password_account_ends_the_registrants_access(accounts: Container) -> None:
    c = accounts
    committed = CommittedOutbox(c.outbox.table).attach(c.dynamodb)  # published or not (a relay deletes)
    try:
        await _link_ends_the_registrants_access(c, committed)
    finally:
        committed.detach()


async def _link_ends_the_registrants_access(c: Container, committed: CommittedOutbox) -> None:
    email = f"victim-{uuid.uuid4().hex[:8]}@hardening.dev"
    c.accounts.writes._admin_emails = frozenset({email})  # the victim's address is on the admin list
    c.accounts.sign_in._google = FakeGoogle(email)  # type: ignore[assignment]
    squatter = await c.accounts.sign_in.register(email, PASSWORD, "Mallory")
    assert squatter.user.role == "user"  # an unverified address grants nothing
    owner = await c.accounts.sign_in.google(f"sub-{uuid.uuid4().hex}")
    assert owner.user.user_id == squatter.user.user_id and owner.user.role == "admin"
    assert owner.user.email_verified and not owner.user.has_password
    # The owner's token is current; the squatter's is older than the change the gateway is told of.
    stored = await c.users.get(owner.user.user_id)
    assert stored is not None and _claims(c, owner.access_token).ver == stored.version
    assert (_claims(c, squatter.access_token).ver or 0) < stored.version
    with pytest.raises(AppError) as login:
        await c.accounts.sign_in.login(email, PASSWORD, "10.9.0.1")
    assert login.value.code is ErrorCode.UNAUTHENTICATED
    with pytest.raises(AppError) as refresh:
        await c.accounts.sessions.refresh(squatter.refresh_token)
    assert refresh.value.code is ErrorCode.UNAUTHENTICATED
    await c.accounts.sessions.refresh(owner.refresh_token)  # the owner's session goes on
    # The link and the session end travel as events, with the version the write stored.
    mine = [r for r in committed.items if owner.user.user_id in str(r)]
    types = {t for r in mine for t in ("UserSessionsRevoked", "UserRoleChanged") if t in str(r)}
    assert types == {"UserSessionsRevoked", "UserRoleChanged"}


async def test_a_verified_account_keeps_its_password_when_google_is_linked(accounts: Container) -> None:
    c = accounts
    email = f"seeded-{uuid.uuid4().hex[:8]}@hardening.dev"
    admin, created = await c.accounts.sign_in.ensure_admin(email, PASSWORD)  # an operator vouched for it
    assert created and admin.email_verified
    c.accounts.sign_in._google = FakeGoogle(email)  # type: ignore[assignment]
    linked = await c.accounts.sign_in.google(f"sub-{uuid.uuid4().hex}")
    assert linked.user.has_password
    await c.accounts.sign_in.login(email, PASSWORD, "10.9.0.2")


async def test_parallel_wrong_passwords_are_counted_before_they_are_checked(accounts: Container) -> None:
    c = accounts
    email = f"burst-{uuid.uuid4().hex[:8]}@hardening.dev"
    await c.accounts.sign_in.register(email, PASSWORD, "Burst")

    async def guess(i: int) -> ErrorCode:
        try:
            await c.accounts.sign_in.login(email, f"wrong guess {i}", f"10.8.{i}.1")
        except AppError as exc:
            return exc.code
        raise AssertionError("a wrong password signed in")

    codes = await asyncio.gather(*(guess(i) for i in range(12)))
    assert codes.count(ErrorCode.UNAUTHENTICATED) == 3, codes  # exactly the limit were checked
    assert codes.count(ErrorCode.RATE_LIMITED) == 9, codes


async def test_a_successful_sign_in_gives_its_count_back(accounts: Container) -> None:
    c = accounts
    email = f"steady-{uuid.uuid4().hex[:8]}@hardening.dev"
    await c.accounts.sign_in.register(email, PASSWORD, "Steady")
    for _ in range(6):  # more sign-ins than the failure limit: none is a failure
        await c.accounts.sign_in.login(email, PASSWORD, "10.7.0.1")
    assert (await c.accounts.sign_in._attempts.failures({"account": email}))["account"] == 0


async def test_a_move_racing_a_plan_deletion_cannot_leave_the_user_on_it(accounts: Container) -> None:
    c = accounts
    pid = await _plan(c)
    user = await c.accounts.sign_in.register(f"race-{uuid.uuid4().hex[:8]}@hardening.dev", PASSWORD, "Race")
    # The admin's read of the plan happens before the deletion lands; the write after it.
    live = await c.plans.get(pid, fresh=True)
    await _deliver(c, _plan_env(PlanDeleted(plan_id=pid), pid, 2))
    original = c.plans.get

    async def stale(plan_id: str, *, fresh: bool = False) -> Any:
        return live if plan_id == pid else await original(plan_id, fresh=fresh)

    c.plans.get = stale  # type: ignore[method-assign]
    try:
        with pytest.raises(AppError) as refused:
            await c.accounts.admin.admin_update(ADMIN, user.user.user_id, AdminUpdateRequest(plan_id=pid))
    finally:
        c.plans.get = original  # type: ignore[method-assign]
    assert refused.value.code is ErrorCode.NOT_FOUND
    assert (await c.users.get(user.user.user_id)).plan_id == "free"  # type: ignore[union-attr]


async def test_a_plan_deleted_after_a_move_sends_its_users_back_to_free(accounts: Container) -> None:
    c = accounts
    pid = await _plan(c, register=True)
    email = f"orphan-{uuid.uuid4().hex[:8]}@hardening.dev"
    pair = await c.accounts.sign_in.register(email, PASSWORD, "Orphan")
    await c.accounts.admin.admin_update(ADMIN, pair.user.user_id, AdminUpdateRequest(plan_id=pid))
    assert _claims(c, (await c.accounts.sign_in.login(email, PASSWORD, "10.6.0.1")).access_token).may_register

    await _deliver(c, _plan_env(PlanDeleted(plan_id=pid), pid, 2))
    after = await c.users.get(pair.user.user_id)
    assert after is not None and after.plan_id == "free" and not after.may_register
    claims = _claims(c, (await c.accounts.sign_in.login(email, PASSWORD, "10.6.0.1")).access_token)
    assert claims.plan == "free" and not claims.may_register

    # A user the fan-out missed (e.g. index lag) is caught up at refresh.
    pid2 = await _plan(c, register=True)
    await c.accounts.admin.admin_update(ADMIN, pair.user.user_id, AdminUpdateRequest(plan_id=pid2))
    session = await c.accounts.sign_in.login(email, PASSWORD, "10.6.0.1")
    c.plan_sync.leave_deleted_plan = None  # the fan-out does nothing this time
    await _deliver(c, _plan_env(PlanDeleted(plan_id=pid2), pid2, 2))
    assert (await c.users.get(pair.user.user_id)).plan_id == pid2  # type: ignore[union-attr]
    refreshed = await c.accounts.sessions.refresh(session.refresh_token)
    assert refreshed.user.plan_id == "free" and _claims(c, refreshed.access_token).plan == "free"
