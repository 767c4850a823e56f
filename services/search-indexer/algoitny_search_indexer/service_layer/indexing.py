"""Event handlers that keep the problem index current, and the search use case."""

from __future__ import annotations

import logging
from typing import Any

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.domain.documents import MAX_QUERY_CHARS, SearchHit, SearchPage, document_of
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import ProblemDeleted, ProblemSnapshot

log = logging.getLogger(__name__)


class Indexer:
    def __init__(self, index: ProblemIndex) -> None:
        self._index = index

    async def on_problem_snapshot(self, envelope: EventEnvelope, payload: ProblemSnapshot) -> None:
        """Created, updated, completed, test set replaced: each carries the whole snapshot, written
        at the aggregate version (external versioning), so a stale or repeated event changes nothing."""
        applied = await self._index.upsert(envelope.aggregate_id, document_of(payload), envelope.aggregate_version)
        if not applied:
            log.info("stale or duplicate event ignored", extra={"aggregate_id": envelope.aggregate_id})

    async def on_problem_deleted(self, envelope: EventEnvelope, payload: ProblemDeleted) -> None:
        """Soft or hard: the document becomes a tombstone (status deleted) at the delete's version.
        Searches filter it out, and because the tombstone keeps the version, an older update that
        arrives late cannot bring the problem back (a plain delete would forget the version)."""
        document = {**document_of(payload), "status": "deleted"}
        applied = await self._index.upsert(envelope.aggregate_id, document, envelope.aggregate_version)
        if not applied:
            log.info("stale or duplicate delete ignored", extra={"aggregate_id": envelope.aggregate_id})

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
        return {
            "problems.ProblemCreated": self.on_problem_snapshot,
            "problems.ProblemUpdated": self.on_problem_snapshot,
            "problems.ProblemCompleted": self.on_problem_snapshot,
            "problems.TestSetReplaced": self.on_problem_snapshot,
            "problems.ProblemDeleted": self.on_problem_deleted,
        }


class SearchService:
    def __init__(self, index: ProblemIndex, cursors: CursorCodec) -> None:
        self._index = index
        self._cursors = cursors

    async def search(self, q: str, *, limit: int, cursor: str | None, include_drafts: bool) -> SearchPage:
        text = " ".join(q.split())
        if not text:
            raise AppError(ErrorCode.VALIDATION_FAILED, "The query must contain at least one non-space character")
        if len(text) > MAX_QUERY_CHARS:
            raise AppError(ErrorCode.VALIDATION_FAILED, f"The query is longer than {MAX_QUERY_CHARS} characters")
        scope = f"search:{text}:{include_drafts}"
        after = self._cursors.decode(cursor, scope)["after"] if cursor else None
        if after is not None and not (isinstance(after, list) and len(after) == 2):
            raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this search")
        hits, total = await self._index.search(text, limit=limit, include_drafts=include_drafts, search_after=after)
        items = [SearchHit(**h["_source"], score=h.get("_score")) for h in hits]
        next_cursor = None
        if len(hits) == limit and hits:
            next_cursor = self._cursors.encode({"after": hits[-1]["sort"]}, scope)
        return SearchPage(items=items, total=total, next_cursor=next_cursor)
