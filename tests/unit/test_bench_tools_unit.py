"""The pure parts of bench/load and bench/faults: percentiles, the cost projection, the bare
replay's call capture and retargeting, the fault checks' registry (no services, no I/O)."""

from __future__ import annotations

from typing import Any

from benchkit import percentile, summary
from faults.checks import CHECKS, CheckContext, CheckResult, check, run_checks
from load import bare, cost


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([], 50) == 0.0
    assert summary([1.0, 2.0, 3.0], suffix="_ms", count=True) == {"n": 3, "p50_ms": 2.0, "p99_ms": 3.0, "mean_ms": 2.0}


def _rec(ts: float, call: str, op: str, kind: str, units: float, cid: str, **extra: Any) -> dict[str, Any]:
    return {
        "ts": ts,
        "call": call,
        "op": op,
        "kind": kind,
        "units": units,
        "cid": cid,
        "table": "t.T",
        "index": None,
        **extra,
    }


def test_units_per_path_subtract_idle_polling_and_project_a_month() -> None:
    records = [
        _rec(10.0, "svc POST /x", "TransactWriteItems", "write", 4.0, "a", params={"TransactItems": []}),
        _rec(10.0, "svc POST /x", "TransactWriteItems", "write", 2.0, "a", index="Gsi"),
        _rec(10.5, "background", "Query", "read", 0.5, "b"),
        _rec(11.0, "background", "UpdateItem", "write", 1.0, "c"),
    ]
    per = cost.per_path(records, {"submit": (9.5, 11.5, 2)}, idle_rate={"read": 0.25, "write": 0.0})
    row = per["submit"]
    assert row["sync_wru_per_request"] == 3.0 and row["async_wru_per_request"] == 0.5
    assert row["async_rru_per_request"] == 0.0  # 0.5 RRU of polling in 2 s at 0.25/s idle: nothing left
    pricing = {
        "prices": {
            "read_request_unit_per_million": 0.25,
            "write_request_unit_per_million": 1.0,
            "storage_gb_month": 0.25,
        },
        "workload": {"executions": 1_000_000},
        "requests_per_month": {"submit": "executions * 2"},
        "stored_items": {"t.T": "executions"},
    }
    proj = cost.project(per, {"t.T": {"mean_bytes": 900}, "t.T/Gsi": {"mean_bytes": 400}}, {}, pricing)
    (line,) = proj["requests"]
    assert line["requests_per_month"] == 2_000_000 and line["wru_per_month"] == 7_000_000
    assert line["usd_per_month"] == 7.0
    assert proj["storage"]["gb"] == round(1_000_000 * (1000 + 500) / 1e9, 3)
    assert cost.gsi_amplification(records) == {"t.T": 0.4}
    assert "| submit |" in cost.markdown(
        {
            "pricing": pricing,
            "per_path": per,
            "projection": proj,
            "gsi_write_amplification": {},
            "access_patterns": cost.access_patterns(records),
        }
    )


def test_bare_replay_captures_request_calls_and_sends_writes_to_the_twin() -> None:
    records = [
        _rec(1.0, "p GET /a", "GetItem", "read", 0.5, "x1", params={"TableName": "ns1-p-T", "Key": {}}),
        _rec(1.1, "background", "Query", "read", 0.5, "x2", params={"TableName": "ns1-p-Outbox"}),
        _rec(
            1.2,
            "p GET /a",
            "PutItem",
            "write",
            1.0,
            "x3",
            params={
                "TableName": "ns1-p-T",
                "Item": {"b": {"B": {"__b64__": "AAE="}}},
                "ReturnConsumedCapacity": "INDEXES",
            },
        ),
        _rec(1.2, "p GET /a", "PutItem", "write", 1.0, "x3", index="Gsi"),
    ]
    calls = bare.calls_in_window(records, 0.5, 2.0)
    assert [op for op, _ in calls] == ["GetItem", "PutItem"]
    prepared = bare.prepared(calls, "ns1", "ns1x")
    assert prepared[0][1]["TableName"] == "ns1-p-T"  # reads: the real tables
    assert prepared[1][1]["TableName"] == "ns1x-p-T" and "ReturnConsumedCapacity" not in prepared[1][1]
    assert prepared[1][1]["Item"]["b"]["B"] == b"\x00\x01"
    batch = bare._retarget({"RequestItems": {"ns1-p-T": [1]}}, "ns1", "ns1x")
    assert batch == {"RequestItems": {"ns1x-p-T": [1]}}
    assert bare._method("BatchGetItem") == "batch_get_item"


def test_checks_are_a_pluggable_list() -> None:
    assert "usage counters match the usage log (each charge applied once)" in CHECKS

    @check("zz added by a later issue")
    def added(ctx: CheckContext) -> CheckResult:
        raise RuntimeError("boom")

    try:
        ctx = CheckContext(namespace="ns1", gateway="http://127.0.0.1:9", opensearch_url="", admin_headers={})
        (result,) = run_checks(ctx, only=["zz added by a later issue"])
        assert not result.ok and "boom" in result.detail  # a broken check fails, it does not crash the suite
    finally:
        CHECKS.pop("zz added by a later issue")


def _timed(op: str, table: str, start: float, end: float, trace: str, cid: str) -> dict[str, Any]:
    rec = _rec(end, "s GET /a", op, "read", 0.5, cid, params={"TableName": table})
    return {**rec, "table": table, "start": start, "end": end, "trace": trace}


def test_bare_replay_keeps_the_platforms_shape_parallel_calls_together() -> None:
    """Overlapping calls (a service awaiting two reads at once) form one step, replayed at once;
    calls in sequence stay in sequence."""
    calls = [
        _timed("GetItem", "A", 1.00, 1.02, "t1", "c1"),
        _timed("BatchGetItem", "B", 1.01, 1.03, "t1", "c2"),
        _timed("Query", "C", 1.04, 1.05, "t1", "c3"),
    ]
    steps = bare.steps_of(calls)
    assert [[op for op, _ in step] for step in steps] == [["GetItem", "BatchGetItem"], ["Query"]]


def test_bare_replay_takes_the_most_common_request_shape_of_the_window() -> None:
    """A first request with a cold cache (an extra read) is not the path's typical request."""
    records = [
        _timed("GetItem", "Plans", 1.0, 1.1, "cold", "c1"),
        _timed("GetItem", "Usage", 1.2, 1.3, "cold", "c2"),
        _timed("GetItem", "Usage", 2.0, 2.1, "warm1", "c3"),
        _timed("GetItem", "Usage", 3.0, 3.1, "warm2", "c4"),
        _timed("GetItem", "Usage", 9.0, 9.1, "later", "c5"),  # outside the window
    ]
    steps = bare.typical_request(records, 0.5, 5.0)
    assert steps == [[("GetItem", {"TableName": "Usage"})]]
    assert bare.typical_request(records, 10.0, 11.0) == []
