"""Fault checks of the statistics service: its counters converge to the executions table.

Registered on import (listed in ``faults.checks.CHECK_MODULES``). The stats service keeps
counters from events; after a fault every user's and every problem's counters must equal what
SearchHistory (the executions service's source of truth) says, neither short (an event lost)
nor over (an event applied twice).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from algoitny_executions.adapters.tables import SEARCH_HISTORY
from faults.checks import CheckContext, CheckResult, check, poll

NAME = "stats converge to the executions table (each run counted once)"


def expected_counters(history: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """Per user (runs, accepted, by verdict) and per problem (attempts, accepted) of completed runs."""
    users: dict[str, dict[str, Any]] = {}
    problems: dict[str, dict[str, int]] = {}
    for item in history:
        if item.get("status") != "completed" or not item.get("user_id"):
            continue
        accepted = int(item.get("verdict") == "AC")
        user = users.setdefault(item["user_id"], {"executions": 0, "accepted": 0, "by_verdict": Counter()})
        user["executions"] += 1
        user["accepted"] += accepted
        user["by_verdict"][item["verdict"]] += 1
        problem = problems.setdefault(f"{item['platform']}/{item['problem_id']}", {"attempts": 0, "accepted": 0})
        problem["attempts"] += 1
        problem["accepted"] += accepted
    return users, problems


@check(NAME)
def stats_converge(ctx: CheckContext) -> CheckResult:
    def probe() -> tuple[bool, str]:
        users, problems = expected_counters(ctx.scan(SEARCH_HISTORY.physical(ctx.namespace)))
        wrong: list[str] = []
        with httpx.Client(base_url=ctx.gateway, timeout=10) as client:
            try:
                for user_id, want in users.items():
                    resp = client.get(f"/api/v1/users/{user_id}/stats")
                    got = resp.json() if resp.status_code == 200 else {}
                    have = (got.get("executions"), got.get("accepted"), got.get("by_verdict"))
                    if have != (want["executions"], want["accepted"], dict(want["by_verdict"])):
                        wrong.append(f"user {user_id}: {have[:2]} != {(want['executions'], want['accepted'])}")
                for key, want_p in problems.items():
                    resp = client.get(f"/api/v1/problems/{key}/stats")
                    got = resp.json() if resp.status_code == 200 else {}
                    if (got.get("attempts"), got.get("accepted")) != (want_p["attempts"], want_p["accepted"]):
                        wrong.append(f"problem {key}: {got.get('attempts')} attempts != {want_p['attempts']}")
            except httpx.HTTPError:
                return False, "gateway unreachable"
        detail = f"{len(users)} users, {len(problems)} problems; {len(wrong)} differ"
        return not wrong, detail + (f": {wrong[:3]}" if wrong else "")

    return poll(ctx, NAME, probe, interval_s=2.0)
