"""Accounts' legacy user import on the in-memory unit of work (no Kafka, no Connect, no moto
server): Debezium records handed to the kit's importer as its consumer would; a snapshot row becomes
a user with UserRegistered (and UserDeactivated for an inactive one), a redelivery changes nothing,
a later change publishes what changed, a duplicate e-mail or Google id is quarantined with its
reason, a delete removes the user and deactivates them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo
from support.legacy_tools import record, user_row
from support.legacy_unit import quarantined, unit_importer

from algoitny_accounts.adapters.tables import ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.service_layer.legacy_import import AccountsLegacyHandler
from algoitny_shared.legacy.identity import legacy_user_id
from algoitny_shared.legacy.row_importer import LegacyImporter


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("accounts") as found:
        yield found


async def _same(user: Any) -> Any:
    return user


def importer(store: Store) -> tuple[LegacyImporter, UserRepository]:
    users = UserRepository(store.client, store.namespace)
    handler = AccountsLegacyHandler(users, _same)
    return unit_importer(store, handler, ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE), users


async def test_snapshot_redelivery_changes_duplicates_and_deletes(store: Store) -> None:
    imp, users = importer(store)
    alice = record("users", user_row(11, "Alice@Example.com", is_staff=True))
    assert await imp.handle("users", *alice) == "imported"
    commits = store.commits
    assert await imp.handle("users", *alice) == "duplicate"  # redelivered: nothing written, nothing published
    assert store.commits == commits
    user = await users.get(legacy_user_id(11))
    assert user is not None and user.email == "alice@example.com" and user.role == "admin"
    [registered] = store.payloads("accounts.UserRegistered")
    assert registered.method == "legacy" and registered.user_id == legacy_user_id(11)

    assert await imp.handle("users", *record("users", user_row(15, "gone@example.com", is_active=False))) == "imported"
    assert store.payloads("accounts.UserDeactivated")[0].user_id == legacy_user_id(15)

    assert await imp.handle("users", *record("users", user_row(13, "dup@example.com"))) == "imported"
    assert await imp.handle("users", *record("users", user_row(14, "DUP@Example.com"))) == "quarantined"
    reasons = await quarantined(imp)
    assert "duplicate e-mail" in reasons["users/14"] and "legacy user 13" in reasons["users/14"]
    assert await imp.handle("users", b'{"id": 17}', b'{"id": 17, "email": ') == "quarantined"
    assert "not JSON" in (await quarantined(imp))["users/17"]

    changed = record("users", user_row(11, "alice@example.com", is_staff=False, is_active=False), op="u")
    assert await imp.handle("users", *changed) == "imported"
    assert store.payloads("accounts.UserRoleChanged")[-1].role == "user"
    assert store.payloads("accounts.UserDeactivated")[-1].user_id == legacy_user_id(11)
    assert await imp.handle("users", *alice) == "stale"  # the older change arriving late loses

    deleted = record("users", user_row(13, "dup@example.com"), op="d")
    assert await imp.handle("users", *deleted) == "deleted"
    assert await users.get(legacy_user_id(13)) is None
    assert store.payloads("accounts.UserDeactivated")[-1].user_id == legacy_user_id(13)
    # The address is free again: the refused user's next change imports, and leaves the quarantine
    # (the same row redelivered would change nothing: the kit remembers it was refused).
    again = record("users", user_row(14, "DUP@Example.com", name="Dup"), op="u")
    assert await imp.handle("users", *again) == "imported"
    assert "users/14" not in await quarantined(imp)
    status = (await imp.status()).tables[0]
    assert (status.imported, status.deleted, status.quarantined) == (3, 1, 1)


async def test_a_google_id_of_another_user_and_a_broken_row_are_quarantined(store: Store) -> None:
    imp, users = importer(store)
    assert await imp.handle("users", *record("users", user_row(21, "g@example.com", google_id="g-1"))) == "imported"
    taken = record("users", user_row(22, "other@example.com", google_id="g-1"))
    assert await imp.handle("users", *taken) == "quarantined"
    broken = {k: v for k, v in user_row(23, "broken@example.com").items() if k != "email"}
    assert await imp.handle("users", *record("users", broken)) == "quarantined"
    reasons = await quarantined(imp)
    assert "duplicate Google id" in reasons["users/22"]
    assert "invalid row" in reasons["users/23"] and "email" in reasons["users/23"]
    assert await users.get(legacy_user_id(22)) is None and await users.get(legacy_user_id(23)) is None
    # An e-mail change onto an address another user holds is refused too; the user stays as it was.
    moved = record("users", user_row(21, "OTHER@example.com", google_id="g-1"), op="u")
    assert await imp.handle("users", *record("users", user_row(24, "other@example.com"))) == "imported"
    assert await imp.handle("users", *moved) == "quarantined"
    assert "duplicate e-mail" in (await quarantined(imp))["users/21"]
    user = await users.get(legacy_user_id(21))
    assert user is not None and user.email == "g@example.com"
    # The verify columns come from the user itself.
    states = await imp.store.get_states("users", ["24"])
    columns = await imp.handler.columns("users", list(states.values()))
    assert columns["24"]["email"] == "other@example.com"
