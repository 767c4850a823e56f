"""History rules without I/O: ids, item size with 1,000 tests, visibility, and the feed cursor
(property test over random interleavings of own and public executions)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from algoitny_executions.adapters.upstreams import (
    CachedTestSetSource,
    FallbackTestSetSource,
    HttpTestSetSource,
    ProblemGone,
    SampleTestSetSource,
)
from algoitny_executions.domain.history import (
    PUBLIC_SHARDS,
    NewExecution,
    NewRun,
    compact_tests,
    compress_code,
    execution_time_ms,
    expand_tests,
    item_size,
    may_see_code,
    new_execution_id,
    pack,
    public_shard,
    unpack,
)
from algoitny_executions.domain.judging import TestCase, TestResult, Verdict
from algoitny_executions.service_layer.executions import HistoryLists, view_of
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError
from algoitny_shared.identity import Identity, IdentitySigner


def test_ids_sort_by_time_and_spread_over_shards() -> None:
    ids = [new_execution_id(1_700_000_000_000 + i) for i in range(500)]
    assert ids == sorted(ids) and len(set(ids)) == 500 and all(len(i) == 26 for i in ids)
    assert execution_time_ms(ids[7]) == 1_700_000_000_007
    shards = {public_shard(new_execution_id()) for _ in range(400)}
    assert shards == {f"PUB#{i}" for i in range(PUBLIC_SHARDS)}


def test_an_item_with_1000_failing_tests_and_incompressible_code_stays_far_below_400kb() -> None:
    rng = random.Random(1)
    code = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(21_000))  # ~63 KB of UTF-8, incompressible
    tests = [
        TestResult(
            index=i,
            verdict=Verdict.WA,
            time_ms=14_999,
            wall_ms=40_000,
            memory_kb=1_048_576,
            detail="é" * 2000,
            output="\U0001f600" * 300,
        )
        for i in range(1000)
    ]
    item: dict[str, Any] = {
        "execution_id": new_execution_id(),
        "user_id": "u" * 128,
        "problem_title": "t" * 200,
        "code_z": compress_code(code),
        # the failing tests' input and expected output are kept too (incompressible, far over the cut)
        "tests_z": pack(
            compact_tests(tests, [TestCase(input=rng.randbytes(1 << 20), output=rng.randbytes(1 << 16))] * 1000)
        ),
        "compile_message": "m" * 4096,
        "detail": "d" * 500,
    }
    assert item_size(item) < 200 * 1024, item_size(item)
    back = expand_tests(unpack(item["tests_z"]))
    assert len(back) == 1000 and back[0]["detail"] and not back[999]["detail"]  # detail for the first failures only
    assert [t["verdict"] for t in back] == ["WA"] * 1000


def test_requests_reject_empty_oversized_and_unknown_fields() -> None:
    base = {"platform": "baekjoon", "problem_id": "1000", "language": "python3", "code": "print(1)"}
    NewExecution(**base)
    for bad in (
        {"code": ""},
        {"code": " \n\t"},
        {"code": "x" * (64 * 1024 + 1)},
        {"user_id": "u-2"},
        {"platform": "A"},
    ):
        with pytest.raises(ValidationError):
            NewExecution(**{**base, **bad})
    with pytest.raises(ValidationError):
        NewRun(language="python3", code="print(1)", stdin="x" * (256 * 1024 + 1))


def test_code_visibility() -> None:
    private = {"user_id": "u-1", "public": False}
    assert may_see_code(private, "u-1", False) and may_see_code(private, "admin", True)
    assert not may_see_code(private, "u-2", False) and not may_see_code(private, None, False)
    assert may_see_code({"user_id": "u-1", "public": True}, None, False)


def test_failed_tests_input_expected_and_hints_are_the_owners_even_on_a_public_execution() -> None:
    cases = [
        TestCase(input=b"1 2\n", output=b"3\n"),
        TestCase(input=b"2000000000 2000000000\n", output=b"4000000000\n"),
    ]
    tests = [TestResult(index=0, verdict=Verdict.AC), TestResult(index=1, verdict=Verdict.WA, output="-294967296\n")]
    item = {
        **_item(new_execution_id(), "owner", public=True),
        "code_z": compress_code("int main(){}"),
        "code_bytes": 12,
        "tests_z": pack(compact_tests(tests, cases)),
        "hints": ["Overflow: use long long"],
    }
    mine = view_of(item, Identity(user_id="owner", role="user"))
    assert (mine.tests[1].input, mine.tests[1].expected, mine.tests[1].input_bytes) == (
        "2000000000 2000000000\n",
        "4000000000\n",
        22,
    )
    assert mine.tests[0].input == "" and mine.hints == ["Overflow: use long long"]
    for viewer in (Identity(user_id="someone", role="user"), Identity()):
        theirs = view_of(item, viewer)
        assert theirs.code == "int main(){}" and theirs.tests[1].output == "-294967296\n"  # public parts
        assert theirs.tests[1].input == "" and theirs.tests[1].expected == "" and theirs.hints == []
    admin = view_of(item, Identity(user_id="root", role="admin"))
    assert admin.tests[1].expected == "4000000000\n" and admin.hints == []  # hints: the owner's alone


class FakeStore:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = sorted(items, key=lambda i: i["execution_id"], reverse=True)

    @staticmethod
    def _take(items: list[dict[str, Any]], before: str | None, limit: int) -> list[dict[str, Any]]:
        return [i for i in items if before is None or i["execution_id"] < before][:limit]

    async def by_user(self, user_id: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return self._take([i for i in self.items if i["user_id"] == user_id], before, limit)

    async def by_public_shard(self, shard: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return self._take([i for i in self.items if i.get("public_shard") == shard], before, limit)

    async def by_problem(self, key: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return self._take([i for i in self.items if i["problem_key"] == key], before, limit)


def _item(execution_id: str, user: str, public: bool) -> dict[str, Any]:
    return {
        "execution_id": execution_id,
        "user_id": user,
        "public": public,
        "public_shard": public_shard(execution_id) if public else None,
        "platform": "p",
        "problem_id": "1",
        "problem_key": "p#1",
        "problem_title": "T",
        "language": "python3",
        "status": "completed",
        "created_at": "2026-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize("seed", range(40))
def test_feed_cursor_walk_yields_exactly_the_merged_sequence(seed: int) -> None:
    rng = random.Random(seed)
    users = ["me", "u1", "u2", "u3"]
    t = 1_700_000_000_000
    items = []
    for _ in range(rng.randrange(0, 60)):
        t += rng.choice([0, 0, 1, 5])  # several in the same millisecond too
        items.append(_item(new_execution_id(t, rng.randbytes(10)), rng.choice(users), rng.random() < 0.5))
    store = FakeStore(items)
    lists = HistoryLists(store, CursorCodec("secret"))
    me = Identity(user_id="me", role="user")
    expected = [i["execution_id"] for i in store.items if i["user_id"] == "me" or i["public"]]
    for scope, want in (
        ("feed", expected),
        ("mine", [i["execution_id"] for i in store.items if i["user_id"] == "me"]),
        ("public", [i["execution_id"] for i in store.items if i["public"]]),
    ):
        limit = rng.randrange(1, 8)
        walked: list[str] = []
        cursor = None
        for _ in range(200):
            page = asyncio.run(lists.list(me, scope, cursor, limit))  # type: ignore[arg-type]
            assert len(page.items) <= limit
            walked += [e.execution_id for e in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert walked == want, (scope, limit)


def test_cursors_are_bound_to_their_listing_and_user() -> None:
    items = [_item(new_execution_id(1_700_000_000_000 + i), "me", True) for i in range(5)]
    lists = HistoryLists(FakeStore(items), CursorCodec("secret"))
    me, other = Identity(user_id="me", role="user"), Identity(user_id="other", role="user")
    page = asyncio.run(lists.list(me, "mine", None, 2))
    assert page.next_cursor
    for identity, scope in ((other, "mine"), (me, "feed"), (me, "public")):
        with pytest.raises(AppError) as err:
            asyncio.run(lists.list(identity, scope, page.next_cursor, 2))  # type: ignore[arg-type]
        assert err.value.code.name == "INVALID_CURSOR"
    with pytest.raises(AppError) as err:
        asyncio.run(lists.list(Identity(), "mine", None, 2))
    assert err.value.code.name == "UNAUTHENTICATED"


# ------------------------------------------------------------------ test-set sources


def _client(routes: dict[str, Any], seen: list[str]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.headers["x-algoitny-identity"]
        answer = routes.get(request.url.path)
        if callable(answer):
            return answer(request)
        if answer is None:
            return httpx.Response(404, json={"detail": f"No route for GET {request.url.path}"})
        return httpx.Response(200, json=answer)

    return httpx.AsyncClient(base_url="http://problems", transport=httpx.MockTransport(handler))


def _source(client: httpx.AsyncClient) -> CachedTestSetSource:
    signer = IdentitySigner("x" * 32)
    return CachedTestSetSource(
        FallbackTestSetSource(HttpTestSetSource(client, signer), SampleTestSetSource(client, signer))
    )


def test_test_sets_page_through_the_testcases_route_and_are_cached_by_version() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        first = "cursor" not in request.url.params
        items = [{"input": f"{i}\n", "output": f"{i}\n"} for i in (range(0, 2) if first else range(2, 3))]
        body = {"incarnation": "i1", "test_set_version": 3, "items": items, "next_cursor": "c1" if first else None}
        return httpx.Response(200, json=body)

    seen: list[str] = []
    source = _source(_client({"/problems/p/1/testcases": page}, seen))
    test_set = asyncio.run(source.load("p", "1", 3, "i1"))
    assert [c.input for c in test_set.cases] == [b"0\n", b"1\n", b"2\n"] and test_set.version == 3
    asyncio.run(source.load("p", "1", 3, "i1"))
    assert len(seen) == 2 and source.loads == 1


def test_a_problem_registered_again_under_the_same_id_is_judged_with_its_new_cases() -> None:
    """Issue 23 item 14: hard-deleted and created again, the problem restarts at test-set version 1;
    the caches (loaded sets and the judge's inputs on disk) are keyed by the incarnation too."""
    current = {"incarnation": "old", "output": "old\n"}

    def page(request: httpx.Request) -> httpx.Response:
        items = [{"input": "1\n", "output": current["output"]}]
        return httpx.Response(200, json={"incarnation": current["incarnation"], "test_set_version": 1, "items": items})

    source = _source(_client({"/problems/p/1/testcases": page}, []))
    first = asyncio.run(source.load("p", "1", 1, "old"))
    current.update(incarnation="new", output="new\n")  # hard delete + create again
    second = asyncio.run(source.load("p", "1", 1, "new"))
    assert first.cases[0].output == b"old\n" and second.cases[0].output == b"new\n"
    assert first.version == second.version == 1 and first.cache_key != second.cache_key
    # a job submitted against the deleted incarnation, not cached here, finds its problem gone (IE, refunded)
    with pytest.raises(ProblemGone):
        asyncio.run(_source(_client({"/problems/p/1/testcases": page}, [])).load("p", "1", 1, "old"))
    # a job from an older producer (no incarnation) is never answered from the cache
    loads = source.loads
    assert asyncio.run(source.load("p", "1", 1)).cases[0].output == b"new\n" and source.loads == loads + 1


def test_samples_stand_in_while_the_testcases_route_is_missing() -> None:
    detail = {"test_set_version": 1, "samples": [{"input": "1 2\n", "output": "3\n", "is_sample": True}]}
    seen: list[str] = []
    source = _source(_client({"/problems/p/1": detail}, seen))
    test_set = asyncio.run(source.load("p", "1", 1))
    assert [(c.input, c.output) for c in test_set.cases] == [(b"1 2\n", b"3\n")]
    gone = _source(_client({"/problems/p/1/testcases": lambda r: httpx.Response(404, json={"detail": "x"})}, []))
    with pytest.raises(ProblemGone):
        asyncio.run(gone.load("p", "1", 1))
