"""A service's legacy importer (the kit's :class:`~algoitny_shared.legacy.row_importer.LegacyImporter`)
on the in-process DynamoDB of :mod:`support.inprocess`, for unit tests of the legacy row handlers:
records are handed to ``importer.handle`` as the consumer would (no Kafka, no Connect), every
commit goes through the store's in-memory unit of work (its events in ``store.events``)."""

from __future__ import annotations

from algoitny_shared.legacy.row_importer import LegacyHandler, LegacyImporter, LegacyStore
from algoitny_shared.tables import TableSpec
from support.inprocess import Store


def legacy_store(store: Store, state: TableSpec, quarantine: TableSpec) -> LegacyStore:
    """The kit's store on the service's two legacy tables (import state, quarantine)."""
    return LegacyStore(store.client, store.table(state), store.table(quarantine))


def unit_importer(
    store: Store,
    handler: LegacyHandler,
    state: TableSpec,
    quarantine: TableSpec,
    *,
    legacy: LegacyStore | None = None,
) -> LegacyImporter:
    """The importer of ``handler`` on ``state`` and ``quarantine`` (or on ``legacy``, a store the
    handler uses too), two attempts per row and no back-off."""
    legacy = legacy or legacy_store(store, state, quarantine)
    return LegacyImporter(legacy, handler, store.uow, max_attempts=2, retry_backoff_s=0)


async def quarantined(importer: LegacyImporter) -> dict[str, str]:
    """``<table>/<key>`` -> reason of every quarantined row."""
    page, _ = await importer.store.quarantine_page(None, 1000)
    return {f"{q.table}/{q.key}": q.reason for q in page}
