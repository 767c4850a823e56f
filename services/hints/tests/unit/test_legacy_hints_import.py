"""The hints service's legacy ``search_history`` handler on the kit's importer, the in-process
DynamoDB and the in-memory unit of work (no Kafka, no Connect, no moto server): a run's legacy
hints become the execution's stored hints (nothing published), a redelivery changes nothing, an
update rewrites them (no hints any more: removed), a delete removes them, a hint set generated on
the new platform is never overwritten, and a bad row goes to the quarantine with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo
from support.legacy_content_tools import record, run_row
from support.legacy_unit import quarantined, unit_importer

from algoitny_hints.adapters.repository import execution_target
from algoitny_hints.adapters.tables import HINTS, HINTS_LEGACY, HINTS_QUARANTINE
from algoitny_hints.domain.models import HintsView
from algoitny_hints.service_layer.legacy_import import HintsLegacyHandler
from algoitny_shared.dynamo import from_item
from algoitny_shared.legacy.identity import legacy_execution_id
from algoitny_shared.legacy.row_importer import LegacyImporter

CREATED = "2024-05-05T12:00:00Z"


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("hints") as found:
        yield found


def importer(store: Store) -> LegacyImporter:
    handler = HintsLegacyHandler(store.client, store.table(HINTS))
    return unit_importer(store, handler, HINTS_LEGACY, HINTS_QUARANTINE)


def execution_of(legacy_id: int, created: str = CREATED) -> str:
    return legacy_execution_id(legacy_id, int(datetime.fromisoformat(created).timestamp() * 1000))


def stored(store: Store, execution_id: str) -> dict[str, Any] | None:
    resp = store.client.get_item(
        TableName=store.table(HINTS),
        Key={"pk": {"S": execution_target(execution_id)}, "sk": {"S": "LATEST"}},
        ConsistentRead=True,
    )
    return from_item(resp["Item"]) if resp.get("Item") else None


def hints_row(legacy_id: int, hints: Any, created: str = CREATED) -> dict[str, Any]:
    return run_row(legacy_id, created, hints=json.dumps(hints) if hints is not None else None)


async def test_insert_redelivery_update_and_delete(store: Store) -> None:
    imp = importer(store)
    first = record("search_history", hints_row(5, ["think", "harder"]), lsn=1)
    assert await imp.handle("search_history", *first) == "imported"
    item = stored(store, execution_of(5))
    assert item is not None
    view = HintsView.model_validate(json.loads(item["view"]))
    assert view.status == "ready" and [h.text for h in view.hints] == ["think", "harder"]
    assert store.events == []  # the legacy hints were paid for and shown already: nothing published

    commits = store.commits
    assert await imp.handle("search_history", *first) == "duplicate"
    assert store.commits == commits

    more = record("search_history", hints_row(5, ["one", "two", "three"]), lsn=2, op="u")
    assert await imp.handle("search_history", *more) == "imported"
    view = HintsView.model_validate(json.loads((stored(store, execution_of(5)) or {})["view"]))
    assert [h.level for h in view.hints] == [1, 2, 3]
    assert await imp.handle("search_history", *first) == "stale"

    none = record("search_history", hints_row(5, None), lsn=3, op="u")
    assert await imp.handle("search_history", *none) == "imported"
    assert stored(store, execution_of(5)) is None  # no hints any more: the earlier import's are removed
    states = await imp.store.get_states("search_history", ["5"])
    assert (await imp.handler.columns("search_history", list(states.values())))["5"] == {"id": 5, "hints": None}

    again = record("search_history", hints_row(5, ["back"]), lsn=4, op="u")
    assert await imp.handle("search_history", *again) == "imported"
    gone = record("search_history", hints_row(5, ["back"]), lsn=5, op="d", deleted=True)
    assert await imp.handle("search_history", *gone) == "deleted"
    assert stored(store, execution_of(5)) is None
    status = (await imp.status()).tables[0]
    assert (status.imported, status.deleted, status.quarantined) == (0, 1, 0)


async def test_a_hint_set_of_the_new_platform_is_never_overwritten(store: Store) -> None:
    imp = importer(store)
    target = execution_of(6)
    store.client.put_item(
        TableName=store.table(HINTS),
        Item={"pk": {"S": execution_target(target)}, "sk": {"S": "LATEST"}, "view": {"S": "{}"}},
    )
    row = record("search_history", hints_row(6, ["legacy"]), lsn=1)
    assert await imp.handle("search_history", *row) == "quarantined"  # conflicts every attempt
    assert stored(store, target) == {"pk": execution_target(target), "sk": "LATEST", "view": "{}"}
    assert "kept conflicting" in (await quarantined(imp))["search_history/6"]


async def test_bad_rows_are_quarantined_with_their_reason(store: Store) -> None:
    imp = importer(store)
    not_a_list = record("search_history", hints_row(7, {"a": 1}), lsn=1)
    assert await imp.handle("search_history", *not_a_list) == "quarantined"
    unfit = {k: v for k, v in hints_row(8, ["x"]).items() if k != "created_at"}
    assert await imp.handle("search_history", *record("search_history", unfit, lsn=2)) == "quarantined"
    reasons = await quarantined(imp)
    assert "not a JSON list" in reasons["search_history/7"]
    assert "invalid row" in reasons["search_history/8"]
    assert stored(store, execution_of(7)) is None
    assert await imp.handle("search_history", *not_a_list) == "duplicate"
    assert (await imp.status()).tables[0].quarantined == 2
