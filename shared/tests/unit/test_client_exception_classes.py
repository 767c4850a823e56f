"""A client's exception classes are made once, when the client is made: botocore makes them on
first use without a lock, so threads failing at once on a new client could each get classes of
their own, and ``except client.exceptions.X`` missed what another thread's call raised."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.errorfactory import ClientExceptionsFactory

from algoitny_shared import dynamo

THREADS = 8


@pytest.fixture
def slow_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen botocore's window between its cache check and its cache write."""
    make = ClientExceptionsFactory._create_client_exceptions

    def slow(self: ClientExceptionsFactory, service_model: Any) -> Any:
        time.sleep(0.05)
        return make(self, service_model)

    monkeypatch.setattr(ClientExceptionsFactory, "_create_client_exceptions", slow)


def _classes_seen_by_threads(client: Any) -> set[type]:
    start = threading.Barrier(THREADS)

    def first_use(_: int) -> type:
        start.wait()
        return client.exceptions.ConditionalCheckFailedException  # type: ignore[no-any-return]

    with ThreadPoolExecutor(THREADS) as pool:
        return set(pool.map(first_use, range(THREADS)))


def _bare_client() -> Any:
    session: Any = boto3.session.Session()
    return session.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )


@pytest.mark.usefixtures("slow_factory")
def test_botocore_alone_can_give_threads_different_exception_classes() -> None:
    assert len(_classes_seen_by_threads(_bare_client())) > 1  # the hazard the platform's clients avoid


@pytest.mark.usefixtures("slow_factory")
@pytest.mark.parametrize("kind", ["dynamodb", "s3"])
def test_the_platforms_clients_give_every_thread_the_same_classes(kind: str) -> None:
    client = dynamo._client(kind, "http://127.0.0.1:9", "us-east-1", "k", "s")
    if kind == "dynamodb":
        assert len(_classes_seen_by_threads(client)) == 1
    assert client._exceptions is not None  # made with the client, before any thread shares it
