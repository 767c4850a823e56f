"""The OpenSearch problem index: analysis, versioned writes, queries and alias switching.

Writes use the event's aggregate version as an external version: OpenSearch applies a
write only if its version is greater than the stored one, so duplicated or reordered
events can never regress a document. The index is always addressed through the alias
``<namespace>-problems``; a rebuild creates a new physical index ``<alias>-v<n>`` and
moves the alias to it in one atomic ``_aliases`` call.

The user's text only ever reaches OpenSearch inside ``term``/``prefix``/``match`` clauses,
never a ``query_string``: query-syntax characters are plain text.
"""

from __future__ import annotations

import logging
import string
import time
from collections.abc import AsyncIterator
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from algoitny_search_indexer.domain.query import Interpretation, SearchSpec, SuggestSpec, hangul_being_typed
from algoitny_shared.platforms import PROBLEM_ID_RE

log = logging.getLogger(__name__)

# Raise when the settings or mappings change: an index of an older schema keeps working (its
# documents have the same fields) but searches miss the new analysis until `reindex` runs.
#
# Schema 3 (issue 20): a number or Latin word glued to a Korean word is a word of its
# own (`카드2` = `카드 2`, `RGB거리` = `RGB 거리`, `N과M` = `N과 M`), and `title.compact`
# (lower case, without spaces, punctuation and symbols) matches a whole title however it is
# spaced or bracketed (`n과 m 1` = `N과 M (1)`). Only analysis and sub-fields changed, never
# the document: the live consumer keeps writing to a schema-2 index until `reindex` moves
# the alias, and searches on a schema-2 index simply find nothing in the sub-field it lacks.
SCHEMA_VERSION = 3
# Split a word where Hangul (or another non-Latin script) meets Latin letters or digits, as a
# token filter so offsets, and so highlights, stay exact. Latin letters count as digits here,
# so `abc049` or `1520A` stay whole; nothing else is split that the standard tokenizer kept.
NUMBERS_APART = {
    "type": "word_delimiter_graph",
    "type_table": [f"{c} => DIGIT" for c in string.ascii_letters],
    "split_on_numerics": True,
    "split_on_case_change": False,
    "stem_english_possessive": False,
    "generate_word_parts": True,
    "generate_number_parts": True,
    "preserve_original": False,
}
TITLE_WORDS = ["asciifolding", "numbers_apart", "lowercase"]  # folded first: `Café2` splits only at 2
INDEX_SETTINGS: dict[str, Any] = {
    "settings": {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        # Problems change rarely; a short, explicit refresh keeps a new problem searchable
        # within a quarter second (an explicit interval also turns off search-idle parking,
        # which otherwise holds the first search after a quiet spell until the next refresh).
        "refresh_interval": "250ms",
        "max_ngram_diff": 1,
        "analysis": {
            "char_filter": {
                "no_gaps": {"type": "pattern_replace", "pattern": "[\\s\\p{P}\\p{S}]+", "replacement": ""},
            },
            "filter": {
                "numbers_apart": NUMBERS_APART,
                "prefixes": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20},
                "cjk_pairs": {"type": "cjk_bigram", "output_unigrams": True},
            },
            "tokenizer": {
                # Character 2- and 3-grams inside words: a part of a Korean word (no spaces
                # between 부분 and 수열 in 부분수열) or of a long id still matches.
                "grams": {"type": "ngram", "min_gram": 2, "max_gram": 3, "token_chars": ["letter", "digit"]},
            },
            "analyzer": {
                "words": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": TITLE_WORDS,
                },
                "word_prefixes": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": [*TITLE_WORDS, "prefixes"],
                },
                "title_cjk": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["cjk_width", "lowercase", "cjk_pairs"],
                },
                "title_grams": {"type": "custom", "tokenizer": "grams", "filter": ["cjk_width", "lowercase"]},
            },
            "normalizer": {
                "lower": {"type": "custom", "filter": ["lowercase", "asciifolding"]},
                "compact": {
                    "type": "custom",
                    "char_filter": ["no_gaps"],
                    "filter": ["cjk_width", "lowercase", "asciifolding"],
                },
            },
        },
    },
    "mappings": {
        "_meta": {"schema": SCHEMA_VERSION},
        "dynamic": "strict",
        "properties": {
            "key": {"type": "keyword"},
            "platform": {"type": "keyword"},
            "problem_id": {"type": "keyword", "normalizer": "lower"},
            "title": {
                "type": "text",
                "analyzer": "words",
                "fields": {
                    "exact": {"type": "keyword", "normalizer": "lower", "ignore_above": 512},
                    "compact": {"type": "keyword", "normalizer": "compact", "ignore_above": 512},
                    "prefix": {"type": "text", "analyzer": "word_prefixes", "search_analyzer": "words"},
                    "cjk": {"type": "text", "analyzer": "title_cjk"},
                    "grams": {"type": "text", "analyzer": "title_grams"},
                },
            },
            "url": {"type": "keyword", "index": False},
            "tags": {
                "type": "keyword",
                "normalizer": "lower",
                "fields": {"words": {"type": "text", "analyzer": "words"}},
            },
            "language": {"type": "keyword"},
            "status": {"type": "keyword"},
            "difficulty": {"type": "keyword"},
            "test_case_count": {"type": "integer"},
            "created_at": {"type": "date"},
            "updated_at": {"type": "date"},
        },
    },
}

HIGHLIGHT = {
    "encoder": "html",  # the title is escaped, only our <em> tags are markup
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fields": {name: {"number_of_fragments": 0} for name in ("title", "title.prefix", "title.cjk", "title.grams")},
}
FACET_SIZE = 20


def _const(clause: dict[str, Any], boost: float) -> dict[str, Any]:
    return {"constant_score": {"filter": clause, "boost": boost}}


def _filters(statuses: tuple[str, ...], platforms: tuple[str, ...]) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"terms": {"status": list(statuses)}}]
    if platforms:
        filters.append({"terms": {"platform": list(platforms)}})
    return filters


def _named_problem(meaning: Interpretation, boost: float) -> list[dict[str, Any]]:
    """Clauses for the problem a platform-prefixed id or a pasted URL names: that platform and
    that id, or (a page named by its title, or an id that is really a title slug such as
    `lc two-sum`) that platform and that whole title however spaced or punctuated."""
    if meaning.platform is None:
        return []
    on_platform: dict[str, Any] = {"term": {"platform": meaning.platform}}
    out: list[dict[str, Any]] = []
    if meaning.problem_id:
        pid = meaning.problem_id.lower()
        out.append(_const({"bool": {"filter": [on_platform, {"term": {"problem_id": pid}}]}}, boost))
    slug = meaning.title_slug or meaning.problem_id
    if slug:
        same_title = {"term": {"title.compact": slug}}
        out.append(_const({"bool": {"filter": [on_platform, same_title]}}, boost * 0.9))
    if meaning.title_slug:
        # A schema-2 index has no title.compact: the slug's words as a phrase still find the page.
        words = {"match_phrase": {"title": meaning.title_slug.replace("-", " ")}}
        out.append(_const({"bool": {"filter": [on_platform, words]}}, boost * 0.5))
    return out


def _as_typed(text: str) -> list[dict[str, Any]]:
    """The whole query as an exact id or title, for when a platform name was read off it."""
    lowered = text.lower()
    return [_const({"term": {"problem_id": lowered}}, 300), _const({"term": {"title.exact": lowered}}, 60)]


def build_query(spec: SearchSpec) -> dict[str, Any]:
    """The bool query of a search: filters, and scored clauses so that the problem a platform
    name plus id (or a pasted URL) names outranks an exact id or title, which outranks a
    phrase, which outranks words, prefixes, typos and fragments."""
    meaning = spec.meaning
    filters = _filters(spec.statuses, spec.platforms)
    if spec.languages:
        filters.append({"terms": {"language": list(spec.languages)}})
    filters.extend({"term": {"tags": tag}} for tag in spec.tags)  # every tag asked for
    named = _named_problem(meaning, 1000)
    if meaning.is_url:  # a problem page: that problem or nothing
        return {"bool": {"filter": filters, "should": named, "minimum_should_match": 1}}

    text = meaning.rest
    lowered = text.lower()
    should: list[dict[str, Any]] = [
        _const({"term": {"problem_id": lowered}}, 300),
        _const({"term": {"title.exact": lowered}}, 60),
        _const({"term": {"tags": lowered}}, 12),
        {"match_phrase": {"title": {"query": text, "boost": 8}}},
        {"match": {"title": {"query": text, "operator": "and", "boost": 5}}},
        {"match": {"title.prefix": {"query": text, "operator": "and", "boost": 3}}},
        # Typos: none under 4 letters, one up to 7, two beyond; the first letter must be right.
        {"match": {"title": {"query": text, "fuzziness": "AUTO:4,8", "prefix_length": 1, "boost": 1.5}}},
        {"match": {"title.cjk": {"query": text, "operator": "and", "boost": 3}}},
        {"match": {"title.grams": {"query": text, "minimum_should_match": "80%", "boost": 0.5}}},
        {"match": {"tags.words": {"query": text, "operator": "and", "boost": 2}}},
    ]
    if any(ch.isalnum() for ch in text):  # `?!` alone is an empty compact title
        # The whole title, spaces, brackets and punctuation aside: `카드 2` is `카드2`, `n과 m 1` is `N과 M (1)`.
        should.append(_const({"term": {"title.compact": text}}, 60))
    if len(lowered) <= 40:
        should.append(_const({"prefix": {"problem_id": lowered}}, 20))
    if meaning.platform is None:
        return {"bool": {"filter": filters, "should": should, "minimum_should_match": 1}}
    # A platform named in front: the problem it names, then its problems first among those the
    # rest of the query finds. The whole text may still be an id or title itself (`lc1` somewhere).
    named.extend(_as_typed(spec.text))
    matches = {"bool": {"should": [*named, *should], "minimum_should_match": 1}}
    prefer = _const({"term": {"platform": meaning.platform}}, 10)
    return {"bool": {"filter": filters, "must": [matches], "should": [prefer]}}


SUGGEST_FIELDS = ["platform", "problem_id", "title", "url", "difficulty"]
SUGGEST_HIGHLIGHT = {
    "encoder": "html",
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fields": {"title.prefix": {"number_of_fragments": 0}},
}


def _problem_of_contest(pid: str) -> dict[str, Any]:
    """Ids that are ``pid`` and a problem index (`4` -> 4A, 4B1), before longer ids (455A)."""
    return {"regexp": {"problem_id": {"value": f"{pid}[a-z][0-9]?", "flags": "NONE"}}}


def build_suggest(spec: SuggestSpec) -> dict[str, Any]:
    """Cheap clauses for a query typed so far: ids and platform-prefixed ids by prefix, the
    whole title by prefix (spaces aside), and every word of the query as a prefix of a title
    word in any script (edge n-grams, so one term lookup per word)."""
    meaning = spec.meaning
    filters = _filters(("completed",), spec.platforms)
    named = _named_problem(meaning, 1000)
    if meaning.is_url:
        return {"bool": {"filter": filters, "should": named, "minimum_should_match": 1}}
    text = meaning.rest
    lowered = text.lower()
    should: list[dict[str, Any]] = [
        _const({"term": {"problem_id": lowered}}, 300),
        _const({"term": {"title.exact": lowered}}, 60),
        {"match": {"title.prefix": {"query": text, "operator": "and", "boost": 5}}},
    ]
    typing = hangul_being_typed(text)
    if typing is not None:
        # The last Korean syllable may still be composing (`미로 타` on the way to `미로 탐색`).
        before, variants = typing
        must: list[dict[str, Any]] = []
        if before:
            must.append({"match": {"title.prefix": {"query": before, "operator": "and"}}})
        if variants:
            must.append({"terms": {"title.prefix": variants}})
        should.append({"bool": {"must": must, "boost": 4}})
    if len(lowered) <= 40:
        should.append(_const({"prefix": {"problem_id": lowered}}, 40))
        if any(ch.isalnum() for ch in text):  # `!!!` is an empty compact title: a prefix of all
            should.append(_const({"prefix": {"title.compact": text}}, 20))
        if PROBLEM_ID_RE.match(lowered):
            should.append(_const(_problem_of_contest(lowered), 10))
    if meaning.platform is None:
        return {"bool": {"filter": filters, "should": should, "minimum_should_match": 1}}
    on_platform = {"term": {"platform": meaning.platform}}
    if meaning.problem_id and len(lowered) <= 40:
        # `boj 10`, `cf 4`: that platform's ids starting so, before other platforms' and titles.
        pid = meaning.problem_id.lower()
        named.append(_const({"bool": {"filter": [on_platform, {"prefix": {"problem_id": pid}}]}}, 500))
        named.append(_const({"bool": {"filter": [on_platform, _problem_of_contest(pid)]}}, 30))
    named.extend(_as_typed(spec.text))
    matches = {"bool": {"should": [*named, *should], "minimum_should_match": 1}}
    return {"bool": {"filter": filters, "must": [matches], "should": [_const(on_platform, 10)]}}


class ProblemIndex:
    def __init__(self, client: AsyncOpenSearch, namespace: str) -> None:
        self._client = client
        self.alias = f"{namespace}-problems"
        self.first_index = f"{self.alias}-v1"

    @property
    def client(self) -> AsyncOpenSearch:
        return self._client

    # ------------------------------------------------------------------ lifecycle

    async def ensure(self) -> None:
        """Create the first physical index behind the alias if the alias does not exist."""
        if await self._client.indices.exists_alias(name=self.alias):
            mappings = await self._client.indices.get_mapping(index=self.alias)
            for name, body in mappings.items():
                schema = body.get("mappings", {}).get("_meta", {}).get("schema", 1)
                if schema != SCHEMA_VERSION:
                    log.warning(
                        "index %s has schema %s, the code expects %s: run `reindex`", name, schema, SCHEMA_VERSION
                    )
            return
        try:
            await self._client.indices.create(
                index=self.first_index, body={**INDEX_SETTINGS, "aliases": {self.alias: {}}}
            )
        except RequestError as exc:
            if "resource_already_exists_exception" not in str(exc):
                raise

    async def create_physical(self) -> str:
        """A new, empty physical index (not yet behind the alias) for a rebuild."""
        name = f"{self.alias}-v{time.time_ns() // 1_000_000}"
        await self._client.indices.create(index=name, body=INDEX_SETTINGS)
        return name

    async def physical(self) -> list[str]:
        """The physical indices behind the alias (one, except inside a switch)."""
        try:
            resp = await self._client.indices.get_alias(name=self.alias)
        except NotFoundError:
            return []
        return sorted(resp)

    async def switch_alias(self, new_index: str) -> list[str]:
        """Point the alias at ``new_index`` only, in one atomic call; returns the old indices."""
        old = [i for i in await self.physical() if i != new_index]
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}} for i in old]
        actions.append({"add": {"index": new_index, "alias": self.alias}})
        await self._client.indices.update_aliases(body={"actions": actions})
        return old

    async def drop(self, index: str) -> None:
        await self._client.indices.delete(index=index, ignore_unavailable=True)

    async def refresh(self, index: str | None = None) -> None:
        await self._client.indices.refresh(index=index or self.alias)

    async def ping(self) -> None:
        if not await self._client.ping():
            raise ConnectionError("OpenSearch does not answer")

    # ------------------------------------------------------------------ writes

    async def upsert(self, doc_id: str, document: dict[str, Any], version: int, index: str | None = None) -> bool:
        """Write the document at ``version``; False when a newer or equal version is stored."""
        try:
            await self._client.index(
                index=index or self.alias,
                id=doc_id,
                body=document,
                version=version,
                version_type="external",
                refresh=False,
            )
        except ConflictError:
            return False
        return True

    async def bulk_upsert(self, writes: list[tuple[str, dict[str, Any], int]], index: str) -> tuple[int, int, int]:
        """The same versioned writes in one bulk request; returns (applied, stale, rejected).

        A document OpenSearch refuses (4xx other than a version conflict: the event is bad, as
        the live consumer would find and dead-letter) is counted and logged, not retried; an
        outage (5xx, 429) raises so the caller can try again."""
        if not writes:
            return 0, 0, 0
        body: list[dict[str, Any]] = []
        for doc_id, document, version in writes:
            body.append({"index": {"_index": index, "_id": doc_id, "version": version, "version_type": "external"}})
            body.append(document)
        resp = await self._client.bulk(body=body)
        applied = stale = rejected = 0
        for item in resp["items"]:
            result = item["index"]
            status = result.get("status", 500)
            if status in (200, 201):
                applied += 1
            elif status == 409:
                stale += 1
            elif 400 <= status < 500 and status != 429:
                rejected += 1
                log.warning("document %s rejected by the index: %s", result.get("_id"), result.get("error"))
            else:
                raise RuntimeError(f"bulk write failed ({status}): {result.get('error')}")
        return applied, stale, rejected

    # ------------------------------------------------------------------ reads

    async def get(self, doc_id: str, index: str | None = None) -> dict[str, Any] | None:
        try:
            resp = await self._client.get(index=index or self.alias, id=doc_id)
        except NotFoundError:
            return None
        return {"_version": resp["_version"], **resp["_source"]}

    async def count(self, index: str | None = None) -> int:
        resp = await self._client.count(index=index or self.alias)
        return int(resp["count"])

    async def documents(self, index: str | None = None, page: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Every document with its version, in key order (to compare two indices)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": page, "sort": [{"key": "asc"}], "version": True}
            if after:
                body["search_after"] = after
            resp = await self._client.search(index=index or self.alias, body=body)
            hits = resp["hits"]["hits"]
            for hit in hits:
                yield {"_id": hit["_id"], "_version": hit["_version"], **hit["_source"]}
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    async def search(self, spec: SearchSpec) -> dict[str, Any]:
        """Raw OpenSearch response of a search: hits (with highlights and sort keys), total, facets."""
        body: dict[str, Any] = {
            "size": spec.limit,
            "track_total_hits": True,
            "query": build_query(spec),
            "sort": [{"_score": "desc"}, {"key": "asc"}],
            "highlight": HIGHLIGHT,
        }
        if spec.facets:
            body["aggs"] = {
                "platform": {"terms": {"field": "platform", "size": FACET_SIZE}},
                "tags": {"terms": {"field": "tags", "size": FACET_SIZE}},
            }
        if spec.search_after:
            body["search_after"] = spec.search_after
        result: dict[str, Any] = await self._client.search(index=self.alias, body=body)
        return result

    async def suggest(self, spec: SuggestSpec) -> dict[str, Any]:
        """Raw OpenSearch response of a suggestion: a few hits, no totals, facets or paging."""
        body: dict[str, Any] = {
            "size": spec.limit,
            "track_total_hits": False,
            "_source": SUGGEST_FIELDS,
            "query": build_suggest(spec),
            "sort": [{"_score": "desc"}, {"key": "asc"}],
            "highlight": SUGGEST_HIGHLIGHT,
        }
        result: dict[str, Any] = await self._client.search(index=self.alias, body=body)
        return result
