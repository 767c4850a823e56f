"""The bare DynamoDB calls of each hot path, replayed with boto3 straight to the local endpoint.

The calls are not written by hand: the capacity hook (``ALGOITNY_CAPACITY_LOG``) records every
call a request makes with its parameters, so a probe request per path yields the exact list
of calls that path needs. Replaying them with the same boto3 client settings the services use,
and no HTTP, no services, no Kafka, gives the floor the platform's latency is compared with.

Reads are replayed on the real tables (same items, same sizes). Writes go to a twin namespace
of empty tables so the replay never changes the platform's data (a replayed outbox row would
otherwise be published again); a conditional write that fails there is still timed (it did the
same work up to the condition) and counted in ``failed``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import threading
import time
from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError

from algoitny_shared.dynamo import dynamodb
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import all_tables

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
Call = tuple[str, dict[str, Any]]  # boto3 operation name, parameters


def calls_in_window(records: list[dict[str, Any]], t0: float, t1: float) -> list[Call]:
    """The calls made for requests (not background work) between t0 and t1, in order."""
    seen: dict[str, tuple[float, Call]] = {}
    for rec in records:
        if t0 <= rec["ts"] <= t1 and rec.get("call") != "background" and "params" in rec:
            seen.setdefault(rec["cid"], (rec["ts"], (rec["op"], rec["params"])))
    return [call for _, call in sorted(seen.values(), key=lambda x: x[0])]


def provision_twin(namespace: str) -> None:
    client = dynamodb(ServiceSettings(namespace=namespace))
    existing = set(client.list_tables()["TableNames"])
    for spec in all_tables():
        if spec.physical(namespace) not in existing:
            client.create_table(**spec.create_request(namespace))


def drop_twin(namespace: str) -> None:
    client = dynamodb(ServiceSettings(namespace=namespace))
    for spec in all_tables():
        with contextlib.suppress(ClientError):
            client.delete_table(TableName=spec.physical(namespace))


def _retarget(value: Any, src: str, dst: str) -> Any:
    """Every TableName (and RequestItems key) from namespace ``src`` to ``dst``."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = dst + k[len(src) :] if isinstance(k, str) and k.startswith(f"{src}-") else k
            if k == "TableName" and isinstance(v, str) and v.startswith(f"{src}-"):
                out[key] = dst + v[len(src) :]
            else:
                out[key] = _retarget(v, src, dst)
        return out
    if isinstance(value, list):
        return [_retarget(v, src, dst) for v in value]
    return value


def _decode(value: Any) -> Any:
    import base64

    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def prepared(calls: list[Call], namespace: str, twin: str) -> list[Call]:
    out = []
    for op, params in calls:
        params = _decode(copy.deepcopy(params))
        params.pop("ReturnConsumedCapacity", None)
        if op not in READS:
            params = _retarget(params, namespace, twin)
        out.append((op, params))
    return out


def _method(op: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in op).lstrip("_")


def replay_once(client: Any, calls: list[Call]) -> int:
    failed = 0
    for op, params in calls:
        try:
            getattr(client, _method(op))(**params)
        except ClientError:
            failed += 1
    return failed


def replay(
    calls_by_path: dict[str, list[Call]], namespace: str, *, clients: int, seconds: float
) -> dict[str, dict[str, Any]]:
    """Replay every path's calls with ``clients`` threads for ``seconds``: latency samples (ms) per path."""
    client = dynamodb(ServiceSettings(namespace=namespace))
    paths = [p for p, calls in calls_by_path.items() if calls]
    samples: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        i = n
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            f = replay_once(client, calls_by_path[path])
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                samples[path].append(ms)
                failed[path] += f

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    return {p: {"samples": samples[p], "failed_calls": failed[p]} for p in paths}
