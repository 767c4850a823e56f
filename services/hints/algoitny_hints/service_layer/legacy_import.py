"""Importing the ``hints`` lists of legacy ``search_history`` rows as the stored hints of the
migrated executions (``EXEC#<execution id>/LATEST``, what ``GET /executions/{id}/hints`` reads).

Its own importer on the same topic as the executions service's, in its own consumer group. The
execution id is the same deterministic one the executions service gives the row
(``legacy_execution_id``), so no lookup is needed and arrival order between the two services
does not matter. Rules:

* ``hints`` a JSON list: each string is one hint, in order, level ``i + 1`` (capped at 5),
  titled "Hint <n>"; non-strings are dropped. NULL or ``[]``: no hints (nothing stored; an
  earlier import's hints are removed). Any other JSON value is quarantined.
* The stored view is ``status: ready``, ``source: gemini`` (the legacy application asked
  Gemini/OpenAI), ``model: legacy``, ``requested_at``/``generated_at`` the run's ``created_at``.
* Nothing is published: the legacy hints were already paid for and shown (the legacy hint usage
  itself is ratelimit's import of ``usage_logs``), and a ``HintGenerated`` would make the
  executions service write the history item ahead of its own import.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from algoitny_hints.adapters.repository import execution_target
from algoitny_hints.domain.models import Hint
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.identity import legacy_execution_id, legacy_user_id
from algoitny_shared.legacy.row_importer import ImportTx, Quarantined, RowState
from algoitny_shared.legacy.rows import SearchHistoryRow

MAX_LEVEL = 5


def legacy_hint_view(row: SearchHistoryRow) -> dict[str, Any] | None:
    """The stored hints view of a legacy row (None when it has no hints)."""
    if row.hints is None:
        return None
    if not isinstance(row.hints, list):
        raise Quarantined(f"hints is not a JSON list but {type(row.hints).__name__}")
    texts = [h for h in row.hints if isinstance(h, str)]
    if not texts:
        return None
    execution_id = legacy_execution_id(row.id, int(row.created_at.timestamp() * 1000))
    hints = [
        Hint(level=min(i + 1, MAX_LEVEL), title=f"Hint {i + 1}", text=text[:4000]).model_dump()
        for i, text in enumerate(texts)
    ]
    return {
        "request_id": f"legacy-{row.id}",
        "kind": "execution",
        "status": "ready",
        "execution_id": execution_id,
        "source": "gemini",
        "model": "legacy",
        "hints": hints,
        "requested_at": row.created_at.isoformat(),
        "generated_at": row.created_at.isoformat(),
        "user_id": legacy_user_id(row.user_id) if row.user_id is not None else None,
        "legacy_hints": row.hints,
    }


class HintsLegacyHandler:
    service = "hints"
    tables: tuple[str, ...] = ("search_history",)

    def __init__(self, client: Any, table: str) -> None:
        self._client = AsyncDynamoDB(client)
        self._table = table

    def _key(self, execution_id: str) -> dict[str, Any]:
        return {"pk": {"S": execution_target(execution_id)}, "sk": {"S": "LATEST"}}

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        old = (prior.refs if prior else {}).get("execution_id")
        if change.deleted:
            if old:
                tx.add({"Delete": {"TableName": self._table, "Key": self._key(old), **_only_legacy()}})
            tx.refs = {}
            return
        row = SearchHistoryRow.model_validate(change.row)
        view = legacy_hint_view(row)
        execution_id = legacy_execution_id(row.id, int(row.created_at.timestamp() * 1000))
        if old and old != execution_id:
            tx.add({"Delete": {"TableName": self._table, "Key": self._key(old), **_only_legacy()}})
        if view is None:
            if old == execution_id:
                tx.add({"Delete": {"TableName": self._table, "Key": self._key(old), **_only_legacy()}})
            tx.refs = {"execution_id": execution_id, "hints": False, "legacy_hints": row.hints}
            return
        item = {
            "pk": execution_target(execution_id),
            "sk": "LATEST",
            "user_id": view["user_id"],
            "view": json.dumps(view, default=str),
            "legacy_id": row.id,
        }
        tx.add(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item({k: v for k, v in item.items() if v is not None}),
                    # Never over a hint set generated on the new platform for this execution.
                    "ConditionExpression": "attribute_not_exists(pk) OR attribute_exists(legacy_id)",
                }
            }
        )
        tx.refs = {"execution_id": execution_id, "hints": True}

    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        stored: dict[str, RowState] = {}
        for state in states:
            if state.refs.get("hints"):
                stored[execution_target(state.refs["execution_id"])] = state
            else:
                out[state.key] = {"id": int(state.key), "hints": state.refs.get("legacy_hints")}
        wanted = list(stored)
        for start in range(0, len(wanted), 100):  # the stored views in one BatchGetItem per 100
            keys = [{"pk": {"S": pk}, "sk": {"S": "LATEST"}} for pk in wanted[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(10):
                resp = await self._client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self._table, []):
                    item = from_item(raw)
                    view = json.loads(item["view"])
                    hit = stored.get(str(item["pk"]))
                    if hit is not None:
                        out[hit.key] = {"id": int(hit.key), "hints": view.get("legacy_hints")}
                request = dict(resp.get("UnprocessedKeys") or {})
                if not request:
                    break
                await asyncio.sleep(0.02 * 2**attempt)
            else:
                raise TimeoutError("hint views still unprocessed after 10 tries")
        return out


def _only_legacy() -> dict[str, Any]:
    return {"ConditionExpression": "attribute_not_exists(pk) OR attribute_exists(legacy_id)"}
