"""The problems service's HTTP list API, as the rebuild fallback reads it.

The indexer never reads the problems service's tables: it asks the service, with an
identity assertion it signs itself (an internal admin identity), for every problem by
status, and then each problem's detail (for its version and URL).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.upstream import upstream_client

STATUSES = ("completed", "draft", "deleted")
INTERNAL_IDENTITY = Identity(user_id="svc:search-indexer", role="admin")


class ProblemsClient:
    def __init__(self, base_url: str, signer: IdentitySigner, *, timeout_s: float = 30.0, concurrency: int = 8):
        self._http = upstream_client(base_url, name="problems", timeout=timeout_s)
        self._signer = signer
        self._limit = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        headers = {IDENTITY_HEADER: self._signer.sign(INTERNAL_IDENTITY, "GET", path)}
        async with self._limit:
            resp = await self._http.get(path, params=params, headers=headers)
        resp.raise_for_status()
        return resp.json()

    async def problems(self, page_size: int = 100) -> AsyncIterator[dict[str, Any]]:
        """Every problem the service holds (completed, drafts, soft-deleted), in full."""
        for status in STATUSES:
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"status": status, "limit": page_size}
                if cursor:
                    params["cursor"] = cursor
                page = await self._get("/problems", params)
                details = await asyncio.gather(
                    *(self._get(f"/problems/{p['platform']}/{p['problem_id']}") for p in page["items"])
                )
                for detail in details:
                    yield detail
                cursor = page.get("next_cursor")
                if not cursor:
                    break


def write_of_problem(problem: dict[str, Any]) -> tuple[str, dict[str, Any], int]:
    """The index write of a problem as the service reports it: the same document an event
    would produce, at the aggregate's version (so it competes fairly with live events)."""
    from algoitny_search_indexer.domain.documents import document_of
    from algoitny_shared.events.catalog import ProblemSnapshot

    snapshot = ProblemSnapshot(
        platform=problem["platform"],
        problem_id=problem["problem_id"],
        title=problem["title"],
        url=problem.get("url"),
        tags=problem.get("tags") or [],
        language=problem.get("language"),
        status=problem["status"],
        difficulty=problem.get("difficulty"),
        test_case_count=int(problem.get("test_case_count") or 0),
        created_at=datetime.fromisoformat(problem["created_at"]),
        updated_at=datetime.fromisoformat(problem["updated_at"]),
    )
    return f"{snapshot.platform}/{snapshot.problem_id}", document_of(snapshot), int(problem["version"])
