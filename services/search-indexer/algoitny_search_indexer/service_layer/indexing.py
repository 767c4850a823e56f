"""Event handlers that keep the problem index current, and the search use case.

The handlers need no inbox: every write is indexed with the event's aggregate version as an
external version (``version_type="external"``), so a redelivered or older event is refused by
the index itself and changes nothing.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from datetime import UTC, datetime
from typing import Any

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from algoitny_search_indexer.adapters.metrics import SEARCH_INDEX_DELAY, SEARCH_LAST_EVENT_TIME
from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.domain.documents import (
    FacetCount,
    Facets,
    SearchHit,
    SearchPage,
    Suggestion,
    SuggestPage,
    document_of,
)
from algoitny_search_indexer.domain.query import SearchSpec, SuggestSpec
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import ProblemDeleted, ProblemSnapshot

log = logging.getLogger(__name__)

PROBLEM_EVENT_TYPES = (
    "problems.ProblemCreated",
    "problems.ProblemUpdated",
    "problems.ProblemCompleted",
    "problems.TestSetReplaced",
    "problems.ProblemDeleted",
)

Write = tuple[str, dict[str, Any], int]


def write_of(envelope: EventEnvelope, payload: ProblemSnapshot) -> Write:
    """The one rule turning a problem event into an index write (live and replay alike).

    Created, updated, completed, test set replaced: each carries the whole snapshot, written at
    the aggregate version (external versioning), so a stale or repeated event changes nothing.
    Deleted (soft or hard): the document becomes a tombstone (status deleted) at the delete's
    version. Searches filter it out, and because the tombstone keeps the version, an older update
    that arrives late cannot bring the problem back (a plain delete would forget the version)."""
    document = document_of(payload)
    if isinstance(payload, ProblemDeleted):
        document["status"] = "deleted"
    return envelope.aggregate_id, document, envelope.aggregate_version


_newest_applied = [0.0]


def note_applied(envelope: EventEnvelope) -> None:
    """Index freshness for the metrics: the newest event applied, and how long it took to land."""
    occurred = envelope.occurred_at.timestamp()
    if occurred > _newest_applied[0]:
        _newest_applied[0] = occurred
        SEARCH_LAST_EVENT_TIME.set(occurred)
    SEARCH_INDEX_DELAY.set(max(0.0, (datetime.now(UTC) - envelope.occurred_at).total_seconds()))


class Indexer:
    def __init__(self, index: ProblemIndex) -> None:
        self._index = index

    async def apply(self, envelope: EventEnvelope, payload: ProblemSnapshot) -> bool:
        doc_id, document, version = write_of(envelope, payload)
        applied = await self._index.upsert(doc_id, document, version)
        if applied:
            note_applied(envelope)
        else:
            log.info("stale or duplicate event ignored", extra={"aggregate_id": envelope.aggregate_id})
        return applied

    async def on_problem_snapshot(self, envelope: EventEnvelope, payload: ProblemSnapshot) -> bool:
        return await self.apply(envelope, payload)

    async def on_problem_deleted(self, envelope: EventEnvelope, payload: ProblemDeleted) -> bool:
        return await self.apply(envelope, payload)

    # Kept for callers of the first slice.
    on_problem_created = on_problem_snapshot

    @staticmethod
    def is_transient(exc: BaseException) -> bool:
        """OpenSearch unreachable, overloaded or failing: wait for it rather than dead-letter."""
        if isinstance(exc, (OpenSearchConnectionError, ConnectionError, TimeoutError)):
            return True
        status = getattr(exc, "status_code", None)
        return isinstance(exc, TransportError) and isinstance(status, int) and (status >= 500 or status == 429)

    def handlers(self) -> dict[str, Any]:
        return {t: self.on_problem_snapshot for t in PROBLEM_EVENT_TYPES}


def _highlight(
    hit: dict[str, Any], fields: tuple[str, ...] = ("title", "title.prefix", "title.cjk", "title.grams")
) -> str:
    found = hit.get("highlight") or {}
    for name in fields:
        if found.get(name):
            return str(found[name][0])
    return html.escape(str(hit["_source"].get("title", "")))


def _facet(resp: dict[str, Any], name: str) -> list[FacetCount]:
    buckets = (resp.get("aggregations") or {}).get(name, {}).get("buckets", [])
    return [FacetCount(value=str(b["key"]), count=int(b["doc_count"])) for b in buckets]


class SearchService:
    def __init__(self, index: ProblemIndex, cursors: CursorCodec) -> None:
        self._index = index
        self._cursors = cursors

    async def search(self, spec: SearchSpec, cursor: str | None = None) -> SearchPage:
        scope = spec.scope()
        if cursor:
            after = self._cursors.decode(cursor, scope).get("after")
            if not (
                isinstance(after, list)
                and len(after) == 2
                and isinstance(after[0], (int, float))
                and isinstance(after[1], str)
            ):
                raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this search")
            # Facets describe the whole result set: only the first page computes them.
            spec = dataclasses.replace(spec, search_after=after, facets=False)
        resp = await self._index.search(spec)
        hits = resp["hits"]["hits"]
        items = [SearchHit(**h["_source"], score=h.get("_score"), highlight=_highlight(h)) for h in hits]
        next_cursor = None
        if len(hits) == spec.limit and hits:
            next_cursor = self._cursors.encode({"after": hits[-1]["sort"]}, scope)
        return SearchPage(
            items=items,
            total=int(resp["hits"]["total"]["value"]),
            facets=Facets(platform=_facet(resp, "platform"), tags=_facet(resp, "tags")),
            next_cursor=next_cursor,
        )

    async def suggest(self, spec: SuggestSpec) -> SuggestPage:
        resp = await self._index.suggest(spec)
        items = [Suggestion(**h["_source"], highlight=_highlight(h, ("title.prefix",))) for h in resp["hits"]["hits"]]
        return SuggestPage(query=spec.text, platform=spec.meaning.platform, items=items)
