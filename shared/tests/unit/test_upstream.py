"""The replica-spreading client: round robin, retries on another replica, passive ejection."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx
import pytest

from algoitny_shared.upstream import RETRY_SAFE, BalancedTransport, replica_urls

URLS = ["http://10.0.0.1:8002", "http://10.0.0.2:8002"]


def _replica(name: str, fail: Callable[[httpx.Request], Exception | None], seen: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{name} {request.method} {request.url.host}")
        assert request.headers["host"] == f"{request.url.host}:8002"
        exc = fail(request)
        if exc is not None:
            raise exc
        return httpx.Response(200, json={"replica": name})

    return httpx.MockTransport(handler)


def _client(a_fails: Exception | None, seen: list[str], eject_s: float = 30.0) -> httpx.AsyncClient:
    transport = BalancedTransport(
        URLS,
        eject_s=eject_s,
        transports=[_replica("a", lambda r: a_fails, seen), _replica("b", lambda r: None, seen)],
    )
    return httpx.AsyncClient(base_url=URLS[0], transport=transport)


def test_replica_urls_split_commas() -> None:
    assert replica_urls(" http://a:1/ , http://b:2,") == ["http://a:1", "http://b:2"]
    with pytest.raises(ValueError):
        replica_urls(" , ")


async def test_requests_are_spread_round_robin() -> None:
    seen: list[str] = []
    async with _client(None, seen) as client:
        answers = [(await client.get("/x")).json()["replica"] for _ in range(4)]
    assert answers == ["a", "b", "a", "b"]
    assert seen[0].endswith("10.0.0.1") and seen[1].endswith("10.0.0.2")


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_a_request_that_never_reached_a_replica_goes_to_another(method: str) -> None:
    seen: list[str] = []
    async with _client(httpx.ConnectError("refused"), seen) as client:
        resp = await client.request(method, "/x", content=b"{}")
    assert resp.json()["replica"] == "b"
    assert seen == [f"a {method} 10.0.0.1", f"b {method} 10.0.0.2"]


async def test_idempotent_requests_are_retried_after_a_replica_died_mid_request() -> None:
    seen: list[str] = []
    async with _client(httpx.RemoteProtocolError("server disconnected"), seen) as client:
        assert (await client.get("/x")).json()["replica"] == "b"
    seen.clear()
    async with _client(httpx.ReadError("reset"), seen) as client:
        resp = await client.post("/x", content=b"{}", headers={"idempotency-key": "key-12345678"})
        assert resp.json()["replica"] == "b"


async def test_a_plain_write_that_may_have_arrived_is_not_sent_twice() -> None:
    seen: list[str] = []
    async with _client(httpx.RemoteProtocolError("server disconnected"), seen) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/x", content=b"{}")
    assert seen == ["a POST 10.0.0.1"]


async def test_a_read_timeout_is_not_retried() -> None:
    seen: list[str] = []
    async with _client(httpx.ReadTimeout("slow"), seen) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/x")
    assert len(seen) == 1


async def test_a_failed_replica_is_ejected_then_taken_back() -> None:
    seen: list[str] = []
    async with _client(httpx.ConnectError("refused"), seen) as client:
        for _ in range(5):
            assert (await client.get("/x")).json()["replica"] == "b"
    # a was tried once, then left out while ejected
    assert sum(s.startswith("a ") for s in seen) == 1
    seen.clear()
    async with _client(httpx.ConnectError("refused"), seen, eject_s=0.0001) as client:
        for _ in range(4):
            await client.get("/x")
    assert sum(s.startswith("a ") for s in seen) >= 2  # its ejection ran out: tried again


async def test_every_replica_failing_raises_the_last_error() -> None:
    seen: list[str] = []
    transport = BalancedTransport(
        URLS,
        transports=[
            _replica("a", lambda r: httpx.ConnectError("refused"), seen),
            _replica("b", lambda r: httpx.ConnectError("refused"), seen),
        ],
    )
    async with httpx.AsyncClient(base_url=URLS[0], transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/x")
        with pytest.raises(httpx.ConnectError):  # all ejected: all are tried anyway
            await client.get("/x")
    assert len(seen) == 4


async def test_a_write_its_caller_marks_retry_safe_is_sent_again() -> None:
    seen: list[str] = []
    async with _client(httpx.ReadError("reset"), seen) as client:
        request = client.build_request("POST", "/consume", content=b"{}", extensions={RETRY_SAFE: True})
        assert (await client.send(request)).json()["replica"] == "b"


async def test_a_cookie_one_answer_sets_is_never_sent_with_later_requests() -> None:
    """A service-to-service client serves every user: a cookie an upstream sets (for one user's
    request) must not travel with the next request, which may be another user's."""
    from algoitny_shared.upstream import upstream_client

    sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=alice; Path=/"}, json={})

    async with upstream_client(URLS[0], transports=[httpx.MockTransport(handler)]) as client:
        await client.get("/x")
        await client.get("/x")
    assert sent == [None, None]
    assert not client.cookies


async def test_the_whole_body_hop_retries_as_the_client_does() -> None:
    """``send_bytes`` keeps the client's rules: a read is sent again after its replica died
    mid-request; a plain write is not, unless its caller marks it retry safe."""
    seen: list[str] = []
    died = httpx.ReadError("reset")
    transport = BalancedTransport(
        URLS, transports=[_replica("a", lambda r: died, seen), _replica("b", lambda r: None, seen)]
    )
    read = await transport.send_bytes("GET", "/x", headers={}, content=b"", timeout_s=5)
    assert read.json() == {"replica": "b"}
    assert seen == ["a GET 10.0.0.1", "b GET 10.0.0.2"]
    transport.replicas[0].ejected_until, transport._turn = 0.0, itertools.count()  # a first again
    seen.clear()
    with pytest.raises(httpx.ReadError):
        await transport.send_bytes("POST", "/x", headers={}, content=b"{}", timeout_s=5)
    assert seen == ["a POST 10.0.0.1"]
    transport.replicas[0].ejected_until, transport._turn = 0.0, itertools.count()
    marked = await transport.send_bytes("POST", "/x", headers={}, content=b"{}", timeout_s=5, retry_safe=True)
    assert marked.json() == {"replica": "b"}
