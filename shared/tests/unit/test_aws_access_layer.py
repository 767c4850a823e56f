"""The one async AWS access layer: boto3 calls on a pool of their own, sized to boto3's
connections, in the caller's context; and no service hands a boto3 call to the default pool."""

from __future__ import annotations

import asyncio
import contextvars
import re
import threading
import time
from pathlib import Path
from typing import Any

from algoitny_shared import aws
from algoitny_shared.aws import MAX_POOL_CONNECTIONS, AsyncDynamoDB, call

REPO = Path(__file__).resolve().parents[3]
LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="none")


class _Blocking:
    """A stand-in boto3 client whose calls block, as boto3's do, for ``delay`` seconds."""

    class exceptions:
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def get_item(self, **kw: Any) -> dict[str, Any]:
        with self.lock:
            self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return {"Item": {"pk": kw["Key"]["pk"]}, "label": LABEL.get()}


async def test_calls_run_on_the_aws_pool_in_the_callers_context() -> None:
    db = AsyncDynamoDB(_Blocking(0.0))  # type: ignore[arg-type]
    LABEL.set("request-7")
    got: Any = await db.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert got["label"] == "request-7"
    assert all(name.startswith("aws") for name in db.client.threads)  # type: ignore[attr-defined]
    assert AsyncDynamoDB(db).client is db.client and db.exceptions is db.client.exceptions


async def test_as_many_calls_in_flight_as_boto3_has_connections() -> None:
    """32 calls of 0.2 s each finish together (the default pool, 6 threads on 2 cores, took
    six rounds); the loop's default executor is left free for other blocking work."""
    client = _Blocking(0.2)
    db = AsyncDynamoDB(client)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    await asyncio.gather(*(db.get_item(TableName="t", Key={"pk": {"S": str(n)}}) for n in range(MAX_POOL_CONNECTIONS)))
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.2 * 3, elapsed
    assert aws.executor()._max_workers == MAX_POOL_CONNECTIONS
    assert await asyncio.to_thread(lambda: threading.current_thread().name.startswith("aws")) is False


async def test_call_passes_results_and_errors_through() -> None:
    def boom() -> None:
        raise ValueError("x")

    assert await call(lambda a, b=0: a + b, 1, b=2) == 3
    try:
        await call(boom)
    except ValueError as exc:
        assert str(exc) == "x"
    else:
        raise AssertionError("the error was swallowed")


# ``<...>.legacy.query`` is the legacy PostgreSQL database (migration's LegacySource), not boto3.
BOTO_CALL = re.compile(
    r"to_thread\(\s*(?![\w.]*\blegacy\.)[\w.\[\]\"]+\.(get_item|put_item|update_item|delete_item|query|scan|batch_\w+|"
    r"transact_\w+|describe_table|\w+_object|\w+_objects|list_objects_v2|head_bucket)\b"
)


def test_no_boto3_call_goes_around_the_access_layer() -> None:
    offenders = []
    for folder in ("services", "shared/algoitny_shared"):
        for path in (REPO / folder).rglob("*.py"):
            if "/tests/" in str(path):
                continue
            text = path.read_text()
            offenders += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in BOTO_CALL.finditer(text)]
    assert offenders == [], "use algoitny_shared.aws (AsyncDynamoDB, AsyncS3, call): " + "; ".join(offenders)
