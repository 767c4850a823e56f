"""The OpenSearch problem index: versioned writes and queries.

Writes use the event's aggregate version as an external version: OpenSearch applies a
write only if its version is greater than the stored one, so duplicated or reordered
events can never regress a document.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

INDEX_SETTINGS: dict[str, Any] = {
    "settings": {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        # Problems change rarely; a short, explicit refresh keeps a new problem searchable
        # within a quarter second (an explicit interval also turns off search-idle parking,
        # which otherwise holds the first search after a quiet spell until the next refresh).
        "refresh_interval": "250ms",
        "analysis": {
            "analyzer": {
                "title_cjk": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["cjk_width", "lowercase", "cjk_bigram"],
                },
            },
            "normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}},
        },
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "key": {"type": "keyword"},
            "platform": {"type": "keyword"},
            "problem_id": {"type": "keyword", "normalizer": "lower"},
            "title": {
                "type": "text",
                "analyzer": "standard",
                "fields": {"cjk": {"type": "text", "analyzer": "title_cjk"}},
            },
            "url": {"type": "keyword", "index": False},
            "tags": {"type": "keyword", "normalizer": "lower"},
            "language": {"type": "keyword"},
            "status": {"type": "keyword"},
            "difficulty": {"type": "keyword"},
            "test_case_count": {"type": "integer"},
            "created_at": {"type": "date"},
            "updated_at": {"type": "date"},
        },
    },
}


class ProblemIndex:
    def __init__(self, client: AsyncOpenSearch, namespace: str) -> None:
        self._client = client
        self.alias = f"{namespace}-problems"
        self.first_index = f"{self.alias}-v1"

    async def ensure(self) -> None:
        """Create the first physical index behind the alias if the alias does not exist."""
        if await self._client.indices.exists_alias(name=self.alias):
            return
        try:
            await self._client.indices.create(
                index=self.first_index, body={**INDEX_SETTINGS, "aliases": {self.alias: {}}}
            )
        except RequestError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    async def upsert(self, doc_id: str, document: dict[str, Any], version: int) -> bool:
        """Write the document at ``version``; False when a newer or equal version is stored."""
        try:
            await self._client.index(
                index=self.alias,
                id=doc_id,
                body=document,
                version=version,
                version_type="external",
                refresh=False,
            )
        except ConflictError:
            return False
        return True

    async def get(self, doc_id: str) -> dict[str, Any] | None:
        try:
            resp = await self._client.get(index=self.alias, id=doc_id)
        except NotFoundError:
            return None
        return {"_version": resp["_version"], **resp["_source"]}

    async def refresh(self) -> None:
        await self._client.indices.refresh(index=self.alias)

    async def search(
        self, text: str, *, limit: int, include_drafts: bool, search_after: list[Any] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        filters: list[dict[str, Any]] = [
            {"terms": {"status": ["completed", "draft"] if include_drafts else ["completed"]}}
        ]
        should: list[dict[str, Any]] = [
            {"term": {"problem_id": {"value": text.lower(), "boost": 10}}},
            {"match_phrase": {"title": {"query": text, "boost": 4}}},
            {"match": {"title": {"query": text, "boost": 2, "fuzziness": "AUTO", "prefix_length": 1}}},
            {"match": {"title.cjk": {"query": text}}},
            {"term": {"tags": {"value": text.lower(), "boost": 3}}},
        ]
        body: dict[str, Any] = {
            "size": limit,
            "track_total_hits": True,
            "query": {"bool": {"filter": filters, "should": should, "minimum_should_match": 1}},
            "sort": [{"_score": "desc"}, {"key": "asc"}],
        }
        if search_after:
            body["search_after"] = search_after
        resp = await self._client.search(index=self.alias, body=body)
        hits = resp["hits"]["hits"]
        return hits, int(resp["hits"]["total"]["value"])

    async def ping(self) -> None:
        if not await self._client.ping():
            raise ConnectionError("OpenSearch does not answer")
