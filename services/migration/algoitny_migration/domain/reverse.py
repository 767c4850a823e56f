"""The way back (issue 16): platform facts as legacy rows, in the legacy application's formats (no I/O).

The reverse writer turns each domain event of the platform made after cutover into the legacy
row the Django application would have written for the same action:

- accounts.User* (registered, plan or role changed, (de|re)activated) -> ``users``: the Django
  password hash (``argon2$argon2id$...`` or the kept ``pbkdf2_sha256``; Google-only ``!`` + 40
  characters) and ``subscription_plan_id`` (a plan the legacy database knows; else NULL);
- problems.Problem* / TestSetReplaced -> ``problems`` (``solution_code`` base64, tags JSON list,
  ``is_completed`` = status completed, soft delete) and its ``test_cases`` (replaced as a whole set);
- problems.GenerationJob* -> ``script_generation_jobs`` (status PENDING/PROCESSING/COMPLETED/FAILED);
- executions.ExecutionCompleted -> ``search_history`` (``result_summary`` "Passed" iff AC,
  ``test_results`` list, counts);
- hints.HintGenerated (of a run) -> ``search_history.hints`` (list of strings);
- ratelimit.UsageConsumed / UsageRefunded -> a ``usage_logs`` row inserted / deleted (the legacy
  application counts rows).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

# A platform plan id of a migrated plan is "legacy-<id>" (algoitny_shared.legacy.identity.legacy_plan_id).
LEGACY_PLAN_PREFIX = "legacy-"
# What a job's status becomes in the legacy application's vocabulary.
JOB_STATUS = {
    "queued": "PENDING",
    "pending": "PENDING",
    "running": "PROCESSING",
    "generating": "PROCESSING",
    "succeeded": "COMPLETED",
    "completed": "COMPLETED",
    "failed": "FAILED",
    "cancelled": "FAILED",
}


def legacy_plan(plan_id: str | None) -> int | None:
    """The legacy plan id of a platform plan id, None for a plan the legacy database does not know."""
    if plan_id and plan_id.startswith(LEGACY_PLAN_PREFIX) and plan_id[len(LEGACY_PLAN_PREFIX) :].isdigit():
        return int(plan_id[len(LEGACY_PLAN_PREFIX) :])
    return None


def user_row(export: dict[str, Any], plan_known: bool) -> dict[str, Any]:
    plan = legacy_plan(export.get("plan_id"))
    return {
        "password": export["password"][:128],
        "is_superuser": bool(export.get("is_superuser")),
        "email": export["email"][:254],
        "name": (export.get("name") or "")[:255],
        "picture": (export.get("picture") or "")[:200],
        "google_id": export.get("google_id"),
        "is_active": bool(export.get("is_active", True)),
        "is_staff": bool(export.get("is_staff")),
        "created_at": export["created_at"],
        "updated_at": export["updated_at"],
        "subscription_plan_id": plan if plan_known else None,
    }


def problem_row(snapshot: dict[str, Any], detail: dict[str, Any] | None, deleted_at: str | None) -> dict[str, Any]:
    solution = (detail or {}).get("reference_solution")
    return {
        "platform": snapshot["platform"][:50],
        "problem_id": snapshot["problem_id"][:50],
        "title": snapshot["title"][:255],
        "problem_url": (snapshot.get("url") or None) and str(snapshot["url"])[:200],
        "tags": list(snapshot.get("tags") or []),
        "solution_code": base64.b64encode(solution.encode()).decode() if solution else None,
        "language": snapshot.get("language"),
        "constraints": (detail or {}).get("constraints"),
        "is_completed": snapshot.get("status") == "completed",
        "is_deleted": deleted_at is not None,
        "deleted_at": deleted_at,
        "deleted_reason": "deleted on the new platform" if deleted_at else None,
        "metadata": {"source": "algoitny-platform"},
        "created_at": snapshot["created_at"],
    }


def history_row(
    completed: dict[str, Any],
    execution: dict[str, Any],
    legacy_user: int | None,
    legacy_problem: int,
    title: str,
    user_identifier: str,
) -> dict[str, Any]:
    """A judged run as the legacy application's search_history row."""
    tests = execution.get("tests") or []
    passed = int(completed.get("passed_count") or 0)
    total = int(completed.get("total_count") or 0)
    verdict = completed.get("verdict")
    results = [
        {
            "test_case_id": t.get("index", i) + 1,
            "output": t.get("output", ""),
            "passed": t.get("verdict") == "AC",
            "error": t.get("detail") or None,
            "status": "success" if t.get("verdict") == "AC" else str(t.get("verdict", "")).lower(),
        }
        for i, t in enumerate(tests)
    ]
    return {
        "user_id": legacy_user,
        "user_identifier": user_identifier[:100],
        "problem_id": legacy_problem,
        "platform": completed["platform"][:50],
        "problem_number": completed["problem_id"][:50],
        "problem_title": title[:255],
        "language": completed["language"][:50],
        "code": execution.get("code") or "",
        "result_summary": "Passed" if verdict == "AC" else "Failed",
        "passed_count": passed,
        "failed_count": max(0, total - passed),
        "total_count": total,
        "is_code_public": bool(completed.get("public")),
        "test_results": results,
        "hints": None,
        "metadata": {"source": "algoitny-platform", "execution_id": completed["execution_id"], "verdict": verdict},
        "created_at": completed.get("submitted_at") or completed["completed_at"],
    }


def usage_row(consumed: dict[str, Any], legacy_user: int) -> dict[str, Any]:
    return {
        "user_id": legacy_user,
        "action": consumed["action"][:20],
        "problem_id": None,
        "metadata": {"source": "algoitny-platform", "request_id": consumed["request_id"]},
        "created_at": consumed["at"],
    }


def job_row(job: dict[str, Any], problem: dict[str, Any] | None, created_at: str) -> dict[str, Any]:
    p = problem or {}
    return {
        "platform": job["platform"][:50],
        "problem_id": job["problem_id"][:50],
        "title": (p.get("title") or job["problem_id"])[:255],
        "problem_url": p.get("url"),
        "tags": list(p.get("tags") or []),
        "solution_code": None,
        "language": (p.get("language") or job.get("generator_language") or "python")[:50],
        "constraints": p.get("constraints") or "",
        "job_type": "generator",
        "status": JOB_STATUS.get(str(job["status"]).lower(), str(job["status"]).upper()[:20]),
        "celery_task_id": job["job_id"][:255],
        "generator_code": None,
        "error_message": job.get("error"),
        "created_at": created_at,
        "updated_at": job["updated_at"],
    }


def hints_list(hints: list[dict[str, Any]]) -> list[str]:
    return [str(h.get("text", "")) for h in hints]


def iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value
