"""The DuckDB report over the sink's Parquet files, with the stats service's definitions:

* a run is an ``executions.ExecutionCompleted``, on the UTC day of its ``completed_at``; accepted
  means verdict ``AC``; daily active users are the distinct users with a run that day (and
  ``active_users`` of the period the distinct users with a run in it);
* hints used are ``ratelimit.UsageConsumed`` minus ``ratelimit.UsageRefunded`` of action ``hint``
  on the charge's ``day`` (column ``p_day``: payload fields named like an envelope column or a
  partition key get a ``p_`` prefix); hint requests are ``hints.HintRequested`` on the day of ``requested_at``;
* sign-ups are ``accounts.UserRegistered`` on the day of ``registered_at``, per ``plan_id``
  (distinct users, as the stats service counts a user's registration once).

Acceptance rates are accepted / runs rounded to 4 places, as the stats service rounds them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from algoitny_analytics.columns import schema_of
from algoitny_events import EVENT_TYPES, model_of

RUNS = "executions.ExecutionCompleted"
USAGE_CONSUMED = "ratelimit.UsageConsumed"
USAGE_REFUNDED = "ratelimit.UsageRefunded"
HINT_REQUESTED = "hints.HintRequested"
USER_REGISTERED = "accounts.UserRegistered"
VIEWS = {
    "runs": RUNS,
    "usage_consumed": USAGE_CONSUMED,
    "usage_refunded": USAGE_REFUNDED,
    "hint_requests": HINT_REQUESTED,
    "signups": USER_REGISTERED,
}


def rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def connect(root: str | Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per event type used (``runs``, ``signups``, ...)."""
    root = Path(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for view, event_type in VIEWS.items():
        files = sorted((root / f"type={event_type}").glob("day=*/*.parquet"))
        if files:
            paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
            options = "union_by_name = true, hive_partitioning = false"
            # Each event once even while a compaction briefly shows it in two files.
            con.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{paths}], {options}) "
                "QUALIFY row_number() OVER (PARTITION BY event_id) = 1"
            )
        else:
            empty = pa.Table.from_batches([], schema=schema_of(model_of(event_type)))
            con.register(f"{view}_empty", empty)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM {view}_empty")
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return con.execute(sql, params).fetchall()


def _by_day(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {str(r[0]): r[1:] if len(r) > 2 else r[1] for r in rows}


def report(root: str | Path, start: date, end: date) -> dict[str, Any]:
    """The report for the UTC days ``start`` .. ``end`` (inclusive)."""
    if end < start:
        raise ValueError("FROM must not be after TO")
    con = connect(root)
    span = [start, end]
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    run_day = "CAST(completed_at AS DATE)"
    in_range = f"{run_day} BETWEEN ? AND ?"

    per_day = _by_day(
        _rows(
            con,
            f"""SELECT {run_day} AS d, count(*), count(*) FILTER (verdict = 'AC'),
                       count(DISTINCT user_id)
                FROM runs WHERE {in_range} GROUP BY d""",
            span,
        )
    )
    lang_day: dict[str, dict[str, int]] = {}
    for d, lang, n in _rows(
        con, f"SELECT {run_day} AS d, language, count(*) FROM runs WHERE {in_range} GROUP BY d, language", span
    ):
        lang_day.setdefault(str(d), {})[lang] = n
    platform_day: dict[str, dict[str, int]] = {}
    for d, platform, n in _rows(
        con, f"SELECT {run_day} AS d, platform, count(*) FROM runs WHERE {in_range} GROUP BY d, platform", span
    ):
        platform_day.setdefault(str(d), {})[platform] = n

    hint_sql = """SELECT day, sum(n) FROM (
            SELECT p_day AS day, 1 AS n FROM usage_consumed WHERE action = 'hint' AND p_day BETWEEN ? AND ?
            UNION ALL
            SELECT p_day AS day, -1 AS n FROM usage_refunded WHERE action = 'hint' AND p_day BETWEEN ? AND ?
        ) GROUP BY day"""
    hints_day = _by_day(_rows(con, hint_sql, [days[0], days[-1], days[0], days[-1]]))
    requests_day = _by_day(
        _rows(
            con,
            """SELECT CAST(requested_at AS DATE) AS d, count(*) FROM hint_requests
               WHERE CAST(requested_at AS DATE) BETWEEN ? AND ? GROUP BY d""",
            span,
        )
    )
    signups_day: dict[str, dict[str, int]] = {}
    for d, plan, n in _rows(
        con,
        """SELECT CAST(registered_at AS DATE) AS d, plan_id, count(DISTINCT user_id) FROM signups
           WHERE CAST(registered_at AS DATE) BETWEEN ? AND ? GROUP BY d, plan_id""",
        span,
    ):
        signups_day.setdefault(str(d), {})[plan] = n

    out_days: list[dict[str, Any]] = []
    for day in days:
        runs, accepted, active = per_day.get(day, (0, 0, 0))
        by_plan = dict(sorted(signups_day.get(day, {}).items()))
        out_days.append(
            {
                "day": day,
                "active_users": int(active),
                "executions": int(runs),
                "accepted": int(accepted),
                "acceptance_rate": rate(accepted, runs),
                "by_language": dict(sorted(lang_day.get(day, {}).items())),
                "by_platform": dict(sorted(platform_day.get(day, {}).items())),
                "hints": int(hints_day.get(day, 0) or 0),
                "hint_requests": int(requests_day.get(day, 0) or 0),
                "signups": sum(by_plan.values()),
                "signups_by_plan": by_plan,
            }
        )

    (active_users,) = _rows(con, f"SELECT count(DISTINCT user_id) FROM runs WHERE {in_range}", span)[0]
    breakdown = [
        {
            "language": lang,
            "platform": platform,
            "runs": int(n),
            "accepted": int(ac),
            "acceptance_rate": rate(ac, n),
        }
        for lang, platform, n, ac in _rows(
            con,
            f"""SELECT language, platform, count(*), count(*) FILTER (verdict = 'AC') FROM runs
                WHERE {in_range} GROUP BY language, platform ORDER BY language, platform""",
            span,
        )
    ]
    (hint_users,) = _rows(
        con,
        "SELECT count(DISTINCT user_id) FROM usage_consumed WHERE action = 'hint' AND p_day BETWEEN ? AND ?",
        [days[0], days[-1]],
    )[0]

    def grouped(key: str) -> dict[str, dict[str, Any]]:
        acc: dict[str, list[int]] = {}
        for row in breakdown:
            pair = acc.setdefault(row[key], [0, 0])
            pair[0] += row["runs"]
            pair[1] += row["accepted"]
        return {k: {"runs": n, "accepted": a, "acceptance_rate": rate(a, n)} for k, (n, a) in sorted(acc.items())}

    executions = sum(d["executions"] for d in out_days)
    accepted_total = sum(d["accepted"] for d in out_days)
    plans: dict[str, int] = {}
    for d in out_days:
        for plan, n in d["signups_by_plan"].items():
            plans[plan] = plans.get(plan, 0) + n
    events = {
        event_type: len(list((Path(root) / f"type={event_type}").glob("day=*/*.parquet")))
        for event_type in sorted(EVENT_TYPES)
        if (Path(root) / f"type={event_type}").exists()
    }
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": out_days,
        "totals": {
            "active_users": int(active_users),
            "executions": executions,
            "accepted": accepted_total,
            "acceptance_rate": rate(accepted_total, executions),
            "hints": sum(d["hints"] for d in out_days),
            "hint_requests": sum(d["hint_requests"] for d in out_days),
            "hint_users": int(hint_users),
            "signups": sum(plans.values()),
            "signups_by_plan": dict(sorted(plans.items())),
        },
        "runs_by_language": grouped("language"),
        "runs_by_platform": grouped("platform"),
        "runs_by_language_and_platform": breakdown,
        "files_per_event_type": events,
    }
