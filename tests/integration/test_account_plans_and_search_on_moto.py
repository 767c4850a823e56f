"""Accounts on moto: plan copies kept from ratelimit's plan events (limits copied into the users
on the plan, once, in order, a tombstone for a deleted plan), the may-register flag in the
access token, and the admin prefix search over users (AP-11) with cursor pagination."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from algoitny_accounts.bootstrap import Container, build
from algoitny_accounts.domain.users import AdminUpdateRequest
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted, PlanUpdated
from algoitny_shared.identity import Identity

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
ADMIN = Identity(user_id="operator", role="admin", plan="admin")


@pytest.fixture
async def accounts(provisioned: dict[str, Any]) -> Container:
    return build(AccountsSettings(consumers_enabled=False))


def _snapshot(pid: str, *, register: bool, executions: int = 10) -> dict[str, Any]:
    return {
        "plan_id": pid,
        "name": f"Plan {pid}",
        "daily_limits": {"execution": executions, "hint": 1},
        "may_register_problems": register,
        "may_view_all_problems": True,
        "max_registered_problems": 5 if register else 0,
        "active": True,
    }


def _env(payload: Any, pid: str, version: int) -> EventEnvelope:
    return REGISTRY.envelope(payload, producer="ratelimit", aggregate_id=pid, aggregate_version=version)


async def _deliver(c: Container, envelope: EventEnvelope) -> None:
    await c.plan_sync.handlers()[envelope.event_type](envelope, REGISTRY.decode(envelope))


def _claims(c: Container, token: str) -> tokens.AccessClaims:
    return tokens.verify(c.settings.signing_keys(), token)


async def test_plan_events_keep_the_copied_limits_and_the_token_flag_current(accounts: Container) -> None:
    c = accounts
    pid = f"p{uuid.uuid4().hex[:8]}"
    with pytest.raises(AppError) as unknown:  # accounts has not heard of the plan yet
        await c.accounts.admin.admin_update(ADMIN, "u_" + "A" * 22, AdminUpdateRequest(plan_id=pid))
    assert unknown.value.code is ErrorCode.NOT_FOUND

    await _deliver(c, _env(PlanCreated(**_snapshot(pid, register=False)), pid, 1))
    emails = [f"pl-{uuid.uuid4().hex[:8]}@plans.dev" for _ in range(3)]
    pairs = [await c.accounts.sign_in.register(e, PASSWORD, "Plan User") for e in emails]
    ids = [p.user.user_id for p in pairs]
    for uid in ids:
        view = await c.accounts.admin.admin_update(ADMIN, uid, AdminUpdateRequest(plan_id=pid))
        assert view.plan_id == pid and view.plan_limits and view.plan_limits["daily_limits"]["execution"] == 10
    login = await c.accounts.sign_in.login(emails[0], PASSWORD, "10.1.1.1")
    assert not _claims(c, login.access_token).may_register

    # The plan now may register problems, with new limits: every user on it gets the copy, once.
    update = _env(PlanUpdated(**_snapshot(pid, register=True, executions=99)), pid, 2)
    await _deliver(c, update)
    versions = []
    for uid in ids:
        user = await c.users.get(uid)
        assert user is not None and user.plan_rev == 2 and user.may_register
        assert user.plan_limits and user.plan_limits["daily_limits"]["execution"] == 99
        versions.append(user.version)
    await _deliver(c, update)  # redelivered: nothing changes (not even versions)
    assert [(await c.users.get(u)).version for u in ids] == versions  # type: ignore[union-attr]
    # An older event arriving late does not undo it.
    await _deliver(c, _env(PlanUpdated(**_snapshot(pid, register=False, executions=1)), pid, 1))
    assert (await c.users.get(ids[0])).may_register  # type: ignore[union-attr]
    assert (await c.plans.get(pid, fresh=True)).rev == 2  # type: ignore[union-attr]

    # The next token carries the flag; the profile shows the copied limits.
    login = await c.accounts.sign_in.login(emails[0], PASSWORD, "10.1.1.1")
    assert _claims(c, login.access_token).may_register and login.user.plan_limits
    assert login.user.plan_limits["max_registered_problems"] == 5

    # A deleted plan is a tombstone: nobody can be moved onto it; an old event cannot revive it.
    other = await c.accounts.sign_in.register(f"pl-{uuid.uuid4().hex[:8]}@plans.dev", PASSWORD, "Other")
    await _deliver(c, _env(PlanDeleted(plan_id=pid), pid, 3))
    await _deliver(c, update)
    copy = await c.plans.get(pid, fresh=True)
    assert copy is not None and copy.deleted
    with pytest.raises(AppError) as gone:
        await c.accounts.admin.admin_update(ADMIN, other.user.user_id, AdminUpdateRequest(plan_id=pid))
    assert gone.value.code is ErrorCode.NOT_FOUND
    # The same id created again is a new plan.
    await _deliver(c, _env(PlanCreated(**_snapshot(pid, register=False)), pid, 1))
    view = await c.accounts.admin.admin_update(ADMIN, other.user.user_id, AdminUpdateRequest(plan_id=pid))
    assert view.plan_limits and view.plan_limits["may_register_problems"] is False


async def test_users_registered_before_the_plan_was_known_get_its_limits_from_the_creation(
    accounts: Container,
) -> None:
    c = accounts
    pid = f"p{uuid.uuid4().hex[:8]}"
    await _deliver(c, _env(PlanCreated(**_snapshot(pid, register=False)), pid, 1))
    pair = await c.accounts.sign_in.register(f"late-{uuid.uuid4().hex[:8]}@plans.dev", PASSWORD, "Late")
    await c.accounts.admin.admin_update(ADMIN, pair.user.user_id, AdminUpdateRequest(plan_id=pid))
    # Simulate the copy lagging: the user holds no limits, then a newer plan event arrives.
    c.dynamodb.update_item(
        TableName=c.users.table,
        Key={"pk": {"S": f"USER#{pair.user.user_id}"}},
        UpdateExpression="REMOVE plan_limits, plan_rev",
    )
    await _deliver(c, _env(PlanUpdated(**_snapshot(pid, register=True)), pid, 2))
    user = await c.users.get(pair.user.user_id)
    assert user is not None and user.plan_rev == 2 and user.may_register


async def test_admin_search_by_email_or_name_prefix_pages_without_duplicates(accounts: Container) -> None:
    c = accounts
    tag = uuid.uuid4().hex[:6]
    # Both the e-mail and the name of the first start with the tag: listed once.
    people = [
        (f"{tag}-ann@search.dev", f"{tag.upper()} Ann"),
        (f"{tag}-bob@search.dev", "Bob Stone"),
        (f"{tag}-cy@search.dev", "Cy Young"),
        (f"zed-{tag}@search.dev", f"{tag}  Zed"),
        (f"yan-{tag}@search.dev", f"{tag.title()} Yan"),
        (f"nope-{tag}@search.dev", f"Not {tag}"),  # the tag inside, not at the start: no match
    ]
    ids = {}
    for email, name in people:
        ids[email] = (await c.accounts.sign_in.register(email, PASSWORD, name)).user.user_id

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await c.accounts.admin.search_users(tag.upper(), None, cursor, 2)
        seen.extend(u.email for u in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen[:3] == sorted(e for e, _ in people[:3])  # e-mail matches first, by e-mail
    assert set(seen[3:]) == {f"zed-{tag}@search.dev", f"yan-{tag}@search.dev"}
    assert len(seen) == len(set(seen)) == 5 and pages >= 3

    by_name = await c.accounts.admin.search_users(f"{tag} z", "name", None, 10)
    assert [u.email for u in by_name.items] == [f"zed-{tag}@search.dev"]
    by_email = await c.accounts.admin.search_users(f"ZED-{tag}", "email", None, 10)
    assert [u.user_id for u in by_email.items] == [ids[f"zed-{tag}@search.dev"]]
    assert (await c.accounts.admin.search_users(f"no-such-{tag}", None, None, 10)).items == []

    first = await c.accounts.admin.search_users(tag, None, None, 1)
    assert first.next_cursor
    with pytest.raises(AppError) as other_search:
        await c.accounts.admin.search_users(f"{tag}x", None, first.next_cursor, 1)
    assert other_search.value.code is ErrorCode.INVALID_CURSOR
    with pytest.raises(AppError) as listing:
        await c.accounts.admin.list_users(None, first.next_cursor, 1)
    assert listing.value.code is ErrorCode.INVALID_CURSOR
