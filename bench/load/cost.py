"""Capacity per API call and per access pattern, and the monthly on-demand cost of a stated
workload, from the records of the capacity hook (``algoitny_shared.capacity``).

Price table, workload and request mix are configuration: ``bench/pricing.yaml``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PRICING = Path(__file__).resolve().parents[1] / "pricing.yaml"
STORAGE_OVERHEAD_BYTES = 100  # DynamoDB bills 100 bytes of indexing overhead per item (table and each GSI)


def load_pricing(path: str | Path | None = None) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(Path(path or DEFAULT_PRICING).read_text())
    return data


def evaluate(expr: str | int | float, names: dict[str, float]) -> float:
    """A number or an arithmetic expression over the workload's names (``users * 30``)."""
    if isinstance(expr, int | float):
        return float(expr)
    return float(eval(str(expr), {"__builtins__": {}, "math": math}, dict(names)))


def pattern_key(rec: dict[str, Any]) -> str:
    where = f"{rec['table']}/{rec['index']}" if rec.get("index") else rec["table"]
    return f"{rec['op']} {where} ({rec['kind']})"


def units_in(records: list[dict[str, Any]]) -> dict[str, float]:
    out = {"read": 0.0, "write": 0.0}
    for rec in records:
        if rec["kind"] in out:
            out[rec["kind"]] += rec["units"]
    return out


def per_path(
    records: list[dict[str, Any]],
    windows: dict[str, tuple[float, float, int]],
    idle_rate: dict[str, float],
) -> dict[str, Any]:
    """Units per request of each path: in the request (sync) and after it (events, relays, consumers),
    with the idle background rate (outbox polling) subtracted from the latter."""
    out: dict[str, Any] = {}
    for path, (t0, t1, count) in windows.items():
        inside = [r for r in records if t0 <= r["ts"] <= t1]
        sync = [r for r in inside if r.get("call") != "background"]
        background = [r for r in inside if r.get("call") == "background"]
        s, b = units_in(sync), units_in(background)
        span = t1 - t0
        b_net = {k: max(0.0, v - idle_rate.get(k, 0.0) * span) for k, v in b.items()}
        patterns: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0, "units": 0.0, "bytes": 0})
        for rec in sync:
            p = patterns[pattern_key(rec)]
            p["calls"] += 1
            p["units"] += rec["units"]
            p["bytes"] += rec.get("bytes", 0)
        api_calls = sorted({r["call"] for r in sync})
        out[path] = {
            "requests": count,
            "api_calls": api_calls,
            "sync_rru_per_request": round(s["read"] / count, 3),
            "sync_wru_per_request": round(s["write"] / count, 3),
            "async_rru_per_request": round(b_net["read"] / count, 3),
            "async_wru_per_request": round(b_net["write"] / count, 3),
            "rru_per_request": round((s["read"] + b_net["read"]) / count, 3),
            "wru_per_request": round((s["write"] + b_net["write"]) / count, 3),
            "dynamodb_calls_per_request": round(len({r["cid"] for r in sync}) / count, 2),
            "patterns_per_request": {
                k: {
                    "calls": round(v["calls"] / count, 2),
                    "units": round(v["units"] / count, 3),
                    "mean_bytes": round(v["bytes"] / max(1, v["calls"])),
                }
                for k, v in sorted(patterns.items())
            },
        }
    return out


def access_patterns(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every (operation, table or index, read/write) seen, with calls, units and item sizes."""
    groups: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec["kind"] not in ("read", "write"):
            continue
        g = groups.setdefault(
            pattern_key(rec), {"pattern": pattern_key(rec), "calls": 0, "units": 0.0, "bytes": 0, "api_calls": set()}
        )
        g["calls"] += 1
        g["units"] += rec["units"]
        g["bytes"] += rec.get("bytes", 0)
        g["api_calls"].add(rec.get("call", "?"))
    out = []
    for g in sorted(groups.values(), key=lambda g: -g["units"]):
        out.append(
            {
                "pattern": g["pattern"],
                "calls": g["calls"],
                "units": round(g["units"], 2),
                "units_per_call": round(g["units"] / g["calls"], 3),
                "mean_bytes": round(g["bytes"] / g["calls"]),
                "api_calls": sorted(g["api_calls"]),
            }
        )
    return out


def item_sizes(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean bytes of items written per table and per GSI entry (PutItem/transactional puts)."""
    sums: dict[str, list[float]] = defaultdict(list)
    for rec in records:
        if rec["kind"] == "write" and rec["op"] in ("PutItem", "TransactWriteItems", "BatchWriteItem", "UpdateItem"):
            key = f"{rec['table']}/{rec['index']}" if rec.get("index") else rec["table"]
            if rec.get("bytes"):
                sums[key].append(rec["bytes"])
    return {k: {"mean_bytes": round(sum(v) / len(v)), "samples": len(v)} for k, v in sorted(sums.items())}


def gsi_amplification(records: list[dict[str, Any]]) -> dict[str, float]:
    """Write units on GSIs per write unit on the base table, per table."""
    base: dict[str, float] = defaultdict(float)
    gsi: dict[str, float] = defaultdict(float)
    for rec in records:
        if rec["kind"] == "write":
            (gsi if rec.get("index") else base)[rec["table"]] += rec["units"]
    return {t: round(gsi[t] / base[t], 2) for t in sorted(base) if base[t]}


def project(
    paths: dict[str, Any], sizes: dict[str, Any], idle: dict[str, float], pricing: dict[str, Any]
) -> dict[str, Any]:
    prices, workload = pricing["prices"], pricing["workload"]
    names = {k: float(v) for k, v in workload.items()}
    rows = []
    total_rru = total_wru = 0.0
    for path, expr in pricing["requests_per_month"].items():
        if path not in paths:
            continue
        n = evaluate(expr, names)
        rru, wru = paths[path]["rru_per_request"] * n, paths[path]["wru_per_request"] * n
        total_rru += rru
        total_wru += wru
        cost = (
            rru / 1e6 * prices["read_request_unit_per_million"] + wru / 1e6 * prices["write_request_unit_per_million"]
        )
        rows.append(
            {
                "path": path,
                "requests_per_month": n,
                "rru_per_request": paths[path]["rru_per_request"],
                "wru_per_request": paths[path]["wru_per_request"],
                "rru_per_month": round(rru),
                "wru_per_month": round(wru),
                "usd_per_month": round(cost, 2),
            }
        )
    seconds = 30 * 86400
    idle_rru, idle_wru = idle.get("read", 0.0) * seconds, idle.get("write", 0.0) * seconds
    idle_cost = (
        idle_rru / 1e6 * prices["read_request_unit_per_million"]
        + idle_wru / 1e6 * prices["write_request_unit_per_million"]
    )
    storage_rows = []
    storage_bytes = 0.0
    for key, expr in pricing["stored_items"].items():
        count = evaluate(expr, names)
        table_bytes = sizes.get(key, {}).get("mean_bytes", 0)
        entries = [(key, table_bytes)] + [(k, v["mean_bytes"]) for k, v in sizes.items() if k.startswith(f"{key}/")]
        for name, mean in entries:
            b = count * (mean + STORAGE_OVERHEAD_BYTES)
            storage_bytes += b
            storage_rows.append(
                {"table_or_index": name, "items": count, "mean_item_bytes": mean, "gb": round(b / 1e9, 3)}
            )
    gb = storage_bytes / 1e9
    storage_cost = max(0.0, gb - prices.get("storage_free_gb", 0)) * prices["storage_gb_month"]
    request_cost = sum(r["usd_per_month"] for r in rows)
    return {
        "requests": rows,
        "background_polling": {
            "rru_per_month": round(idle_rru),
            "wru_per_month": round(idle_wru),
            "usd_per_month": round(idle_cost, 2),
            "note": "outbox relays and consumers polling while idle (one process per service)",
        },
        "storage": {"rows": storage_rows, "gb": round(gb, 3), "usd_per_month": round(storage_cost, 2)},
        "total_rru_per_month": round(total_rru + idle_rru),
        "total_wru_per_month": round(total_wru + idle_wru),
        "total_usd_per_month": round(request_cost + idle_cost + storage_cost, 2),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = ["# DynamoDB capacity and monthly on-demand cost", ""]
    w = report["pricing"]["workload"]
    lines.append("Workload: " + ", ".join(f"{k} = {v:,}" for k, v in w.items()))
    p = report["pricing"]["prices"]
    lines.append("Prices: " + ", ".join(f"{k} = {v}" for k, v in p.items()))
    lines += ["", "## Units per API call (measured, per request)", ""]
    lines.append("| path | DynamoDB calls | RRU sync | WRU sync | RRU async | WRU async | RRU total | WRU total |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for path, v in report["per_path"].items():
        lines.append(
            f"| {path} | {v['dynamodb_calls_per_request']} | {v['sync_rru_per_request']} "
            f"| {v['sync_wru_per_request']} | {v['async_rru_per_request']} | {v['async_wru_per_request']} "
            f"| {v['rru_per_request']} | {v['wru_per_request']} |"
        )
    lines += [
        "",
        "## Monthly projection",
        "",
        "| path | requests/month | RRU/req | WRU/req | USD/month |",
        "|---|---|---|---|---|",
    ]
    proj = report["projection"]
    for r in proj["requests"]:
        lines.append(
            f"| {r['path']} | {r['requests_per_month']:,.0f} | {r['rru_per_request']} "
            f"| {r['wru_per_request']} | {r['usd_per_month']:.2f} |"
        )
    bg = proj["background_polling"]
    lines.append(f"| idle polling | - | - | - | {bg['usd_per_month']:.2f} |")
    st = proj["storage"]
    lines.append(f"| storage ({st['gb']} GB) | - | - | - | {st['usd_per_month']:.2f} |")
    lines.append(f"| **total** | | | | **{proj['total_usd_per_month']:.2f}** |")
    lines += ["", "## Storage", "", "| table / index | items | mean item bytes | GB |", "|---|---|---|---|"]
    for r in st["rows"]:
        lines.append(f"| {r['table_or_index']} | {r['items']:,.0f} | {r['mean_item_bytes']} | {r['gb']} |")
    lines += ["", "## GSI write amplification (GSI write units per base-table write unit)", ""]
    for t, a in report["gsi_write_amplification"].items():
        lines.append(f"- {t}: {a}")
    lines += [
        "",
        "## Access patterns (all calls of the cost run)",
        "",
        "| pattern | calls | units/call | mean bytes | API calls |",
        "|---|---|---|---|---|",
    ]
    for a in report["access_patterns"]:
        lines.append(
            f"| {a['pattern']} | {a['calls']} | {a['units_per_call']} | {a['mean_bytes']} "
            f"| {', '.join(a['api_calls'])[:120]} |"
        )
    lines += ["", report.get("note", ""), ""]
    return "\n".join(lines)
