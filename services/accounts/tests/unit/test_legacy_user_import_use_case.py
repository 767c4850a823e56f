"""Accounts' legacy user import on the in-memory unit of work (no Kafka, no Connect, no moto
server): Debezium records handed to the importer as its consumer would; a snapshot row becomes a
user with UserRegistered (and UserDeactivated for an inactive one), a redelivery is stale, a later
change publishes what changed, a duplicate e-mail is quarantined with its reason, a delete removes
the user and deactivates them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo
from support.legacy_tools import record, user_row

from algoitny_accounts.adapters.tables import ACCOUNTS_LEGACY
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.service_layer.legacy_import import LegacyUserImport
from algoitny_shared.legacy.identity import legacy_user_id
from algoitny_shared.legacy.importer import LegacyImporter, LegacyImportStore


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("accounts") as found:
        yield found


async def _same(user: Any) -> Any:
    return user


def importer(store: Store) -> tuple[LegacyImporter, UserRepository, LegacyImportStore]:
    users = UserRepository(store.client, store.namespace)
    legacy = LegacyImportStore(store.client, ACCOUNTS_LEGACY, store.namespace)
    imports = LegacyUserImport(users, legacy, store.uow, _same)  # type: ignore[arg-type]
    return imports.importer(max_attempts=2, backoff_s=0), users, legacy


async def test_snapshot_redelivery_changes_duplicates_and_deletes(store: Store) -> None:
    imp, users, legacy = importer(store)
    alice = record("users", user_row(11, "Alice@Example.com", is_staff=True))
    assert await imp.handle("users", *alice) == "applied"
    assert await imp.handle("users", *alice) == "stale"  # redelivered
    user = await users.get(legacy_user_id(11))
    assert user is not None and user.email == "alice@example.com" and user.role == "admin"
    [registered] = store.payloads("accounts.UserRegistered")
    assert registered.method == "legacy" and registered.user_id == legacy_user_id(11)

    assert await imp.handle("users", *record("users", user_row(15, "gone@example.com", is_active=False))) == "applied"
    assert store.payloads("accounts.UserDeactivated")[0].user_id == legacy_user_id(15)

    assert await imp.handle("users", *record("users", user_row(13, "dup@example.com"))) == "applied"
    assert await imp.handle("users", *record("users", user_row(14, "DUP@Example.com"))) == "quarantined"
    page, _ = await legacy.quarantined(None, 10, ["users"])
    assert [(q.key, "legacy user 13" in q.reason) for q in page] == [("14", True)]
    assert await imp.handle("users", b'{"id": 17}', b'{"id": 17, "email": ') == "quarantined"

    changed = record("users", user_row(11, "alice@example.com", is_staff=False, is_active=False), op="u")
    assert await imp.handle("users", *changed) == "applied"
    assert store.payloads("accounts.UserRoleChanged")[-1].role == "user"
    assert store.payloads("accounts.UserDeactivated")[-1].user_id == legacy_user_id(11)

    deleted = record("users", user_row(13, "dup@example.com"), op="d")
    assert await imp.handle("users", *deleted) == "applied"
    assert await users.get(legacy_user_id(13)) is None
    assert store.payloads("accounts.UserDeactivated")[-1].user_id == legacy_user_id(13)
    # The address is free again: the refused user imports now.
    again = record("users", user_row(14, "DUP@Example.com"), op="u")
    assert await imp.handle("users", *again) == "applied"
