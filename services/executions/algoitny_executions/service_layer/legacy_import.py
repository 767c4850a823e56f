"""Importing legacy ``search_history`` rows as history items, through this service's write path:
the item and its event commit together through the outbox (rules: :mod:`..domain.legacy`).

A migrated run is never judged again and never charged: only ``executions.ExecutionCompleted``
is published (no ``ExecutionSubmitted``, which is the judge's job), with no charge, its
``completed_at``/``submitted_at`` the legacy ``created_at`` (statistics count it on its legacy
UTC day) and its language normalised. A later legacy update rewrites the item; a change of
``is_code_public`` also publishes ``ExecutionVisibilityChanged``. A legacy delete removes the item
(statistics keep the run: they count what happened).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.domain import legacy as rules
from algoitny_shared.dynamo import to_item
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import ExecutionCompleted, ExecutionVisibilityChanged
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.row_importer import ImportTx, Quarantined, RowState
from algoitny_shared.legacy.rows import SearchHistoryRow

PRODUCER = "executions"
LEGACY_ACTOR = "legacy-import"


class ExecutionsLegacyHandler:
    service = "executions"
    tables: tuple[str, ...] = ("search_history",)

    def __init__(self, history: HistoryRepository) -> None:
        self._history = history
        # The history items of a batch's rows, read together by ``prepare``; each used once.
        self._prefetched: dict[str, dict[str, Any] | None] = {}

    async def prepare(self, changes: Sequence[LegacyChange]) -> None:
        """Read the history items of the batch's rows in one go (``BatchGetItem``)."""
        ids = []
        for change in changes:
            if change.deleted:
                continue
            try:
                row = SearchHistoryRow.model_validate(change.row)
            except ValueError:
                continue  # apply quarantines it
            ids.append(rules.execution_id_of(row))
        found = await self._history.get_many(ids, consistent=True) if ids else {}
        self._prefetched = {e: found.get(e) for e in ids}

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        if change.deleted:
            execution_id = (prior.refs if prior else {}).get("execution_id")
            if execution_id:
                tx.add({"Delete": {"TableName": self._history.table, "Key": {"execution_id": {"S": execution_id}}}})
            return
        row = SearchHistoryRow.model_validate(change.row)
        try:
            item = rules.history_item(row)
        except rules.Refused as exc:
            raise Quarantined(str(exc)) from exc
        execution_id = item["execution_id"]
        if prior and prior.refs.get("execution_id") not in (None, execution_id):
            # created_at changed in the legacy row: the id moves with it (history order follows).
            tx.add(
                {
                    "Delete": {
                        "TableName": self._history.table,
                        "Key": {"execution_id": {"S": prior.refs["execution_id"]}},
                    }
                }
            )
        if execution_id in self._prefetched:
            existing = self._prefetched.pop(execution_id)
        else:
            existing = await self._history.get(execution_id, consistent=True)
        tx.add(
            {
                "Put": {
                    "TableName": self._history.table,
                    "Item": to_item({k: v for k, v in item.items() if v is not None}),
                    "ConditionExpression": "attribute_not_exists(execution_id) OR legacy_id = :lid",
                    "ExpressionAttributeValues": {":lid": {"N": str(row.id)}},
                }
            }
        )
        user_id = None if item["user_id"] == rules.LEGACY_ANONYMOUS else item["user_id"]
        if existing is None:
            tx.publish(
                REGISTRY.envelope(
                    ExecutionCompleted(
                        execution_id=execution_id,
                        user_id=user_id,
                        platform=item["platform"],
                        problem_id=item["problem_id"],
                        language=item["language"],
                        verdict=item["verdict"],
                        passed_count=item["passed"],
                        total_count=item["total"],
                        public=item["public"],
                        completed_at=row.created_at,
                        submitted_at=row.created_at,
                    ),
                    producer=PRODUCER,
                    aggregate_id=execution_id,
                    aggregate_version=2,
                )
            )
        elif bool(existing.get("public")) != item["public"]:
            tx.publish(
                REGISTRY.envelope(
                    ExecutionVisibilityChanged(
                        execution_id=execution_id,
                        user_id=user_id,
                        public=item["public"],
                        changed_by=LEGACY_ACTOR,
                        changed_at=datetime.now(UTC),
                    ),
                    producer=PRODUCER,
                    aggregate_id=execution_id,
                    aggregate_version=3 + int(existing.get("visibility_changes", 0)),
                )
            )
        tx.refs = {"execution_id": execution_id}

    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        found = await self._history.get_many([s.refs["execution_id"] for s in states], consistent=True)
        return {
            s.key: rules.legacy_columns(found[s.refs["execution_id"]])
            for s in states
            if s.refs["execution_id"] in found
        }
