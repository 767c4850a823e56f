"""The executions service's legacy ``search_history`` handler on the kit's importer, the in-process
DynamoDB and the in-memory unit of work (no Kafka, no Connect, no moto server): a legacy run
becomes a completed history item with one ``ExecutionCompleted`` (never charged, never judged
again), a redelivery changes nothing, an update rewrites the item (a visibility change publishes
``ExecutionVisibilityChanged``), a delete removes it, and a row the rules refuse or that does not fit
its model goes to the quarantine with its reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.inprocess import Store, in_process_dynamo
from support.legacy_content_tools import record, run_row
from support.legacy_unit import quarantined, unit_importer

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.adapters.tables import EXECUTIONS_LEGACY, EXECUTIONS_QUARANTINE
from algoitny_executions.service_layer.legacy_import import ExecutionsLegacyHandler
from algoitny_shared.legacy.identity import legacy_execution_id, legacy_user_id
from algoitny_shared.legacy.row_importer import LegacyImporter

CREATED = "2024-05-05T12:00:00.5Z"


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("executions") as found:
        yield found


def importer(store: Store) -> tuple[LegacyImporter, HistoryRepository]:
    history = HistoryRepository(store.client, store.namespace)
    return unit_importer(store, ExecutionsLegacyHandler(history), EXECUTIONS_LEGACY, EXECUTIONS_QUARANTINE), history


def _id(legacy_id: int, created: str = CREATED) -> str:
    from datetime import datetime

    return legacy_execution_id(legacy_id, int(datetime.fromisoformat(created).timestamp() * 1000))


async def test_insert_redelivery_update_and_delete(store: Store) -> None:
    imp, history = importer(store)
    first = record("search_history", run_row(42, CREATED), lsn=10)
    assert await imp.handle("search_history", *first) == "imported"
    item = await history.get(_id(42), consistent=True)
    assert item is not None and item["user_id"] == legacy_user_id(7) and item["legacy_id"] == 42
    [completed] = store.payloads("executions.ExecutionCompleted")
    assert completed.execution_id == _id(42) and completed.verdict == "AC" and completed.charge is None
    assert store.types() == ["executions.ExecutionCompleted"]  # never submitted, never judged again

    commits = store.commits
    assert await imp.handle("search_history", *first) == "duplicate"  # redelivered
    assert store.commits == commits and len(store.events) == 1

    public = record("search_history", run_row(42, CREATED, is_code_public=True), lsn=20, op="u")
    assert await imp.handle("search_history", *public) == "imported"
    assert (await history.get(_id(42), consistent=True) or {})["public"] is True
    [changed] = store.payloads("executions.ExecutionVisibilityChanged")
    assert changed.public is True and changed.execution_id == _id(42)
    assert await imp.handle("search_history", *first) == "stale"  # the older change arriving late

    gone = record("search_history", run_row(42, CREATED), lsn=30, op="d", deleted=True)
    assert await imp.handle("search_history", *gone) == "deleted"
    assert await history.get(_id(42), consistent=True) is None
    assert await imp.handle("search_history", *gone) == "duplicate"
    status = (await imp.status()).tables[0]
    assert (status.imported, status.deleted, status.quarantined) == (0, 1, 0)


async def test_a_moved_creation_time_moves_the_item(store: Store) -> None:
    imp, history = importer(store)
    assert await imp.handle("search_history", *record("search_history", run_row(43, CREATED), lsn=1)) == "imported"
    later = "2024-05-06T08:00:00Z"
    assert await imp.handle("search_history", *record("search_history", run_row(43, later), lsn=2, op="u")) == (
        "imported"
    )
    assert await history.get(_id(43), consistent=True) is None
    assert await history.get(_id(43, later), consistent=True) is not None


async def test_bad_rows_are_quarantined_with_their_reason(store: Store) -> None:
    imp, history = importer(store)
    refused = record("search_history", run_row(44, CREATED, platform="no such/platform!"), lsn=1)
    assert await imp.handle("search_history", *refused) == "quarantined"
    unfit = {k: v for k, v in run_row(45, CREATED).items() if k != "created_at"}
    assert await imp.handle("search_history", *record("search_history", unfit, lsn=2)) == "quarantined"
    assert await imp.handle("search_history", b'{"id": 46}', b"not json") == "quarantined"
    reasons = await quarantined(imp)
    assert "not a valid platform name" in reasons["search_history/44"]
    assert "invalid row" in reasons["search_history/45"] and "created_at" in reasons["search_history/45"]
    assert "not a legacy change" in reasons["search_history/46"]
    assert await history.get(_id(44), consistent=True) is None and store.events == []
    assert await imp.handle("search_history", *refused) == "duplicate"  # the same bad row: counted once
    assert (await imp.status()).tables[0].quarantined == 3
    # A later, valid change of a quarantined row imports it and takes it out of the quarantine.
    fixed = record("search_history", run_row(44, CREATED), lsn=3, op="u")
    assert await imp.handle("search_history", *fixed) == "imported"
    assert "search_history/44" not in await quarantined(imp)
    states = await imp.store.get_states("search_history", ["44"])
    columns = await imp.handler.columns("search_history", list(states.values()))
    assert columns["44"]["id"] == 44
