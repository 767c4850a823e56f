"""The Parquet store (each event once across batches and restarts, atomic files, partitions)
and the DuckDB report on a small stream whose figures are counted by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from algoitny_analytics.__main__ import main
from algoitny_analytics.report import report
from algoitny_analytics.store import ParquetStore
from algoitny_events import Event, decode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    HintRequested,
    UsageConsumed,
    UsageRefunded,
    UserRegistered,
)

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _event(payload: Any, aggregate_id: str) -> Event[Any]:
    envelope = REGISTRY.envelope(payload, producer="test", aggregate_id=aggregate_id, aggregate_version=1)
    moment = next(v for v in payload.model_dump().values() if isinstance(v, datetime))
    return decode({**json.loads(envelope.to_bytes()), "occurred_at": moment.isoformat()})


def _run(i: int, user: str, day: date, hour: int, language: str, platform: str, verdict: str) -> Event[Any]:
    payload = ExecutionCompleted(
        execution_id=f"x{i}",
        user_id=user,
        platform=platform,
        problem_id="1A",
        language=language,
        verdict=verdict,
        completed_at=_at(day, hour),
    )
    return _event(payload, f"x{i}")


def stream() -> list[Event[Any]]:
    runs = [
        _run(1, "u1", D1, 1, "python3", "codeforces", "AC"),
        _run(2, "u1", D1, 2, "python3", "codeforces", "WA"),
        _run(3, "u2", D1, 23, "cpp17", "baekjoon", "AC"),
        _run(4, "u2", D2, 0, "cpp17", "codeforces", "TLE"),
        _run(5, "u3", D2, 5, "python3", "baekjoon", "AC"),
    ]
    users = [
        _event(UserRegistered(user_id=u, role="user", plan_id=p, registered_at=_at(d, 0)), u)
        for u, p, d in (("u1", "free", D1), ("u2", "pro", D1), ("u3", "free", D2))
    ]
    usage = [
        _event(
            UsageConsumed(
                user_id="u1", action="hint", request_id="r1", day="2026-03-01", at=_at(D1, 3), plan_id="free"
            ),
            "c1",
        ),
        _event(
            UsageConsumed(user_id="u2", action="hint", request_id="r2", day="2026-03-01", at=_at(D1, 4), plan_id="pro"),
            "c2",
        ),
        _event(
            UsageRefunded(user_id="u2", action="hint", request_id="r2", day="2026-03-01", at=_at(D1, 5), reason="x"),
            "c2",
        ),
        _event(
            UsageConsumed(
                user_id="u1", action="execution", request_id="r3", day="2026-03-02", at=_at(D2, 1), plan_id="free"
            ),
            "c3",
        ),
        _event(HintRequested(request_id="h1", kind="execution", user_id="u1", requested_at=_at(D1, 3)), "h1"),
        _event(HintRequested(request_id="h2", kind="execution", user_id="u2", requested_at=_at(D2, 4)), "h2"),
    ]
    return runs + users + usage


def test_each_event_is_written_once_across_batches_and_restarts(tmp_path: Path) -> None:
    events = stream()
    store = ParquetStore(tmp_path)
    assert store.write_sync(events[:4] + events[:2]) == 4  # duplicates within a batch
    assert store.write_sync(events[:6]) == 2  # only the new ones
    (tmp_path / "type=x" / "day=2026-03-01").mkdir(parents=True)
    leftover = tmp_path / "type=x" / "day=2026-03-01" / "part-dead.parquet.tmp"
    leftover.write_bytes(b"half a file")  # a crash mid-write
    again = ParquetStore(tmp_path)  # a restart reads the ids back
    assert not leftover.exists()
    assert len(again) == 6
    assert again.write_sync(events) == len(events) - 6
    ids = [i for p in again.files() for i in pq.read_table(p, columns=["event_id"]).column("event_id").to_pylist()]
    assert sorted(ids) == sorted(str(e.event_id) for e in events)
    runs = sorted(
        p.relative_to(tmp_path).parent.as_posix()
        for p in (tmp_path / "type=executions.ExecutionCompleted").rglob("*.parquet")
    )
    assert set(runs) == {
        "type=executions.ExecutionCompleted/day=2026-03-01",
        "type=executions.ExecutionCompleted/day=2026-03-02",
    }
    table = pq.read_table(again.files()[0])
    assert {"event_id", "occurred_at", "payload_json"} <= set(table.column_names)


def test_the_report_counts_as_the_stats_service_defines(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    ParquetStore(tmp_path).write_sync(stream())
    got = report(tmp_path, D1, D2)
    day1, day2 = got["days"]
    assert day1 == {
        "day": "2026-03-01",
        "active_users": 2,
        "executions": 3,
        "accepted": 2,
        "acceptance_rate": 0.6667,
        "by_language": {"cpp17": 1, "python3": 2},
        "by_platform": {"baekjoon": 1, "codeforces": 2},
        "hints": 1,  # two charged, one refunded
        "hint_requests": 1,
        "signups": 2,
        "signups_by_plan": {"free": 1, "pro": 1},
    }
    assert (day2["executions"], day2["accepted"], day2["active_users"], day2["hints"], day2["signups"]) == (
        2,
        1,
        2,
        0,
        1,
    )
    assert got["totals"] == {
        "active_users": 3,
        "executions": 5,
        "accepted": 3,
        "acceptance_rate": 0.6,
        "hints": 1,
        "hint_requests": 2,
        "hint_users": 2,
        "signups": 3,
        "signups_by_plan": {"free": 2, "pro": 1},
    }
    assert got["runs_by_language"]["python3"] == {"runs": 3, "accepted": 2, "acceptance_rate": 0.6667}
    assert got["runs_by_platform"]["baekjoon"] == {"runs": 2, "accepted": 2, "acceptance_rate": 1.0}
    assert {"language": "cpp17", "platform": "codeforces", "runs": 1, "accepted": 0, "acceptance_rate": 0.0} in got[
        "runs_by_language_and_platform"
    ]
    # one day only; an empty directory gives zeros
    assert report(tmp_path, D2, D2)["totals"]["executions"] == 2
    assert report(tmp_path / "empty", D1, D1)["totals"]["executions"] == 0
    # the command prints the same JSON
    monkeypatch.setenv("ALGOITNY_ANALYTICS_DIR", str(tmp_path))
    assert main(["report", "--from", "2026-03-01", "--to", "2026-03-02"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"] == got["totals"]
    assert main(["report", "--from", "2026-03-02", "--to", "2026-03-01"]) == 2


def test_compaction_merges_partitions_and_a_crash_in_it_is_finished_or_abandoned(tmp_path: Path) -> None:
    events = stream()
    store = ParquetStore(tmp_path)
    for event in events:
        store.write_sync([event])  # one file per event
    files_before = len(store.files())
    assert files_before == len(events)
    assert store.compact() > 0
    assert len(store.files()) < files_before
    assert all(len(list(d.glob("part-*.parquet"))) == 1 for d in {p.parent for p in store.files()})
    ids = [i for p in store.files() for i in pq.read_table(p, columns=["event_id"]).column("event_id").to_pylist()]
    assert sorted(ids) == sorted(str(e.event_id) for e in events)
    assert report(tmp_path, D1, D2)["totals"]["executions"] == 5
    assert not list(tmp_path.rglob("compact-*.json"))

    # A crash after the merged file was renamed into place, before its inputs were deleted:
    runs = tmp_path / "type=executions.ExecutionCompleted" / "day=2026-03-01"
    (merged,) = runs.glob("part-*.parquet")
    copy = runs / "part-copy.parquet"
    copy.write_bytes(merged.read_bytes())  # the merged file, the inputs still there
    (runs / "compact-x.json").write_text(json.dumps({"output": copy.name, "inputs": [merged.name]}))
    assert report(tmp_path, D1, D1)["totals"]["executions"] == 3  # readers see each event once
    reopened = ParquetStore(tmp_path)
    assert [p.name for p in runs.glob("part-*.parquet")] == ["part-copy.parquet"]
    assert len(reopened) == len(events)

    # A crash before the rename: the manifest and the temporary file go, the inputs stay.
    (runs / "part-new.parquet.tmp").write_bytes(b"partial")
    (runs / "compact-y.json").write_text(json.dumps({"output": "part-new.parquet", "inputs": ["part-copy.parquet"]}))
    ParquetStore(tmp_path)
    assert sorted(p.name for p in runs.iterdir()) == ["part-copy.parquet"]
    assert report(tmp_path, D1, D2)["totals"]["executions"] == 5


async def test_messages_the_sink_cannot_decode_are_quarantined_with_the_reason_and_the_stream_goes_on(
    tmp_path: Path,
) -> None:
    """Guide: events that cannot be processed go to quarantine with the reason, never stall
    the stream (an invalid payload used to be redelivered forever) nor vanish unrecorded."""
    import base64

    from faststream.kafka import TestKafkaBroker

    from algoitny_analytics.quarantine import Quarantine
    from algoitny_analytics.sink import SinkConfig, attach
    from algoitny_events import make_broker

    config = SinkConfig(bootstrap_servers="127.0.0.1:9", namespace="ns", group="analytics", root=str(tmp_path))
    store, quarantine = ParquetStore(tmp_path), Quarantine(tmp_path)
    broker = make_broker("127.0.0.1:9")
    attach(broker, config, store, quarantine)
    good = REGISTRY.envelope(
        ExecutionCompleted(
            execution_id="x1",
            user_id="u1",
            platform="codeforces",
            problem_id="1A",
            language="python3",
            verdict="AC",
            completed_at=_at(D1, 1),
        ),
        producer="test",
        aggregate_id="x1",
        aggregate_version=1,
    ).to_bytes()
    invalid = json.loads(good)
    invalid["event_id"] = "6f1b7a44-3a0e-4d2b-9a5e-0c1d2e3f4a5b"
    del invalid["payload"]["verdict"]
    garbage = b"\xff not an envelope"
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(garbage, json.dumps(invalid).encode(), good, topic="ns.executions.events")
    assert len(store) == 1
    records = quarantine.records()
    assert [r["reason"] for r in records] == ["NotAnEnvelope", "InvalidPayload"]
    assert base64.b64decode(records[0]["value_b64"]) == garbage
    assert "verdict" in records[1]["error"]
