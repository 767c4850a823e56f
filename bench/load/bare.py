"""The bare DynamoDB calls of each hot path, replayed with boto3 straight to the local endpoint.

The calls are not written by hand: the capacity hook (``ALGOITNY_CAPACITY_LOG``) records every
call a request makes with its parameters, so a probe request per path yields the exact list
of calls that path needs. Replaying them with the same boto3 client settings the services use,
and no HTTP, no services, no Kafka, gives the floor the platform's latency is compared with.

Reads are replayed on the real tables (same items, same sizes). Writes go to a twin namespace
of empty tables so the replay never changes the platform's data (a replayed outbox row would
otherwise be published again); a conditional write that fails there is still timed (it did the
same work up to the condition) and counted in ``failed``.

Calls a request made at the same time (a service awaiting two reads together, or two services
called together) are replayed at the same time too, and sequential ones in sequence: the hook
records each call's start, end and trace id, so the bare floor has the platform's own shape, no
slower (all calls in a row) and no faster (all at once). The calls replayed for a path are those
of its most common shape in the cost phase (caches warm), not of one cold first request.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import random
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


Step = list[Call]  # calls the platform made at the same time


def steps_of(calls: list[dict[str, Any]]) -> list[Step]:
    """Calls (records with ``start``, ``end``, ``op``, ``params``) as steps: a call that started
    before every call of the current step ended joins it (they overlapped: made in parallel)."""
    out: list[Step] = []
    step_end = float("-inf")
    for rec in sorted(calls, key=lambda r: r.get("start", r["ts"])):
        start, end = rec.get("start", rec["ts"]), rec.get("end", rec["ts"])
        if out and start < step_end:
            out[-1].append((rec["op"], rec["params"]))
            step_end = max(step_end, end)
        else:
            out.append([(rec["op"], rec["params"])])
            step_end = end
    return out


def typical_request(records: list[dict[str, Any]], t0: float, t1: float) -> list[Step]:
    """The calls of one request between t0 and t1 with the most common shape (operations and
    tables in order), as steps; the latest such request (warm caches)."""
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    for rec in records:
        if t0 <= rec["ts"] <= t1 and rec.get("call") != "background" and "params" in rec and rec["cid"] not in seen:
            seen.add(rec["cid"])
            by_request[rec.get("trace") or rec["cid"]].append(rec)
    if not by_request:
        return []
    shapes: dict[tuple[Any, ...], list[list[dict[str, Any]]]] = defaultdict(list)
    for calls in by_request.values():
        calls.sort(key=lambda r: r.get("start", r["ts"]))
        shapes[tuple((r["op"], r["table"]) for r in calls)].append(calls)
    common = max(shapes.values(), key=len)
    return steps_of(max(common, key=lambda calls: calls[0].get("start", calls[0]["ts"])))


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


def prepared_steps(steps: list[Step], namespace: str, twin: str) -> list[Step]:
    return [prepared(step, namespace, twin) for step in steps]


def _call(client: Any, op: str, params: dict[str, Any]) -> int:
    try:
        getattr(client, _method(op))(**params)
    except ClientError:
        return 1
    return 0


def replay_once(client: Any, steps: list[Step], pool: concurrent.futures.Executor | None = None) -> int:
    """One request's calls: steps in sequence, the calls of a step at the same time (on ``pool``)."""
    failed = 0
    for step in steps:
        if len(step) == 1 or pool is None:
            failed += sum(_call(client, op, params) for op, params in step)
        else:
            failed += sum(f.result() for f in [pool.submit(_call, client, op, params) for op, params in step])
    return failed


def replay(
    steps_by_path: dict[str, list[Step]],
    namespace: str,
    *,
    clients: int,
    seconds: float,
    weights: dict[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Replay every path's calls with ``clients`` threads for ``seconds``: latency samples (ms) per path.

    ``weights``: each replay picks its path as the load mix picks requests, so DynamoDB meets the
    same mix of calls as under the platform (a path with no calls, e.g. search, is left out)."""
    client = dynamodb(ServiceSettings(namespace=namespace))
    paths = [p for p, steps in steps_by_path.items() if steps]
    samples: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    width = max((len(step) for steps in steps_by_path.values() for step in steps), default=1)
    fanout = concurrent.futures.ThreadPoolExecutor(max_workers=clients * width) if width > 1 else None

    chances = [float((weights or {}).get(p, 1)) for p in paths]

    def worker(n: int) -> None:
        rng = random.Random(n)
        while time.monotonic() < stop:
            path = rng.choices(paths, chances)[0]
            t0 = time.perf_counter()
            f = replay_once(client, steps_by_path[path], fanout)
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                samples[path].append(ms)
                failed[path] += f

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(worker, range(clients)))
    finally:
        if fanout is not None:
            fanout.shutdown()
    return {p: {"samples": samples[p], "failed_calls": failed[p]} for p in paths}
