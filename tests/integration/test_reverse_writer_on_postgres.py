"""The rollback path on the real legacy PostgreSQL (issue 16): the reverse writer writes post-cutover
platform changes into the legacy schema as the legacy application reads them (section 1's queries),
exactly once under redelivery; the freeze the cutover gate relies on makes the legacy role read-only.
The platform's APIs and the phase are fakes here; the whole drill is tests/e2e/test_migration_drill_e2e.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher
from support.legacy_cdc import create_database, drop_database

from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    GeneratedHint,
    GenerationJobCreated,
    HintGenerated,
    ProblemCreated,
    TestSetReplaced,
    UsageConsumed,
    UsageRefunded,
    UserPlanChanged,
    UserRegistered,
)

pytestmark = pytest.mark.integration

CUTOVER = datetime.now(UTC) - timedelta(minutes=5)
PASSWORD = "post-cutover-pass-1"


@dataclass
class Phase:
    phase: str = "rolling_back"  # a rollback began: what the cut_over period did is still written back
    since: str | None = (CUTOVER + timedelta(hours=1)).isoformat()  # later than every event here
    cutover_at: str | None = CUTOVER.isoformat()


class FakePhases:
    def __init__(self) -> None:
        self.current = Phase()

    async def get(self) -> Phase:
        return self.current


class FakePlatform:
    """What the services answer the reverse writer (accounts' export, problems, executions)."""

    def __init__(self) -> None:
        argon = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16)
        from algoitny_accounts.domain.legacy import django_password

        now = datetime.now(UTC).isoformat()
        self.users = {
            "u_newcomer": {
                "user_id": "u_newcomer",
                "legacy_id": None,
                "email": "newcomer@platform.example",
                "name": "새 사용자",
                "picture": "",
                "google_id": None,
                "password": django_password(argon.hash(PASSWORD), "x"),
                "is_active": True,
                "is_staff": False,
                "is_superuser": False,
                "plan_id": "legacy-2",  # current state
                "created_at": now,
                "updated_at": now,
            }
        }
        self.calls: list[str] = []

    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any | None:
        self.calls.append(path)
        if path.startswith("/internal/legacy/export/users/"):
            return self.users.get(path.rsplit("/", 1)[1])
        if path == "/problems/codeforces/2099Z":
            return {
                "title": "Reverse 문제",
                "reference_solution": "print(42)\n",
                "constraints": "1 <= n",
                "url": None,
                "tags": ["math"],
                "language": "python",
            }
        if path == "/problems/codeforces/2099Z/testcases":
            return {
                "items": [{"input": f"{i}\n", "output": f"{i * 2}\n"} for i in range(3)]
                + [{"input": "x" * 150_000, "output": "big\n"}],
                "next_cursor": None,
            }
        if path.startswith("/executions/"):
            return {
                "code": "print(int(input())*2)",
                "tests": [{"index": 0, "verdict": "AC"}, {"index": 1, "verdict": "WA", "detail": "expected 2"}],
            }
        return None


@pytest.fixture
def legacy_db(legacy_postgres: None, namespace: str) -> Iterator[str]:
    from algoitny_migration.adapters.legacy_db import LegacyDatabase
    from algoitny_migration.domain.legacy_data import SCALES, generate

    name = f"rev_{namespace.replace('-', '_')}"[:60]
    dsn = create_database(name)
    db = LegacyDatabase(dsn)
    db.apply_schema()
    db.load(generate(dataclasses.replace(SCALES["small"], hashed_users=2)))
    yield dsn
    drop_database(name)


def _env(payload: Any, aggregate: str, at: datetime | None = None) -> Any:
    envelope = REGISTRY.envelope(payload, producer="test", aggregate_id=aggregate, aggregate_version=1)
    return envelope.model_copy(update={"occurred_at": at or datetime.now(UTC)}), payload


def _events() -> list[tuple[Any, Any]]:
    now = datetime.now(UTC)
    snap = {
        "platform": "codeforces",
        "problem_id": "2099Z",
        "title": "Reverse 문제",
        "tags": ["math"],
        "language": "python",
        "status": "completed",
        "created_at": now,
        "updated_at": now,
    }
    exec_id = "01JREVERSE0000000000000001"
    return [
        _env(UserRegistered(user_id="u_newcomer", role="user", plan_id="legacy-1", registered_at=now), "u_newcomer"),
        _env(
            UserPlanChanged(user_id="u_newcomer", plan_id="legacy-2", previous_plan_id="legacy-1", changed_at=now),
            "u_newcomer",
        ),
        _env(ProblemCreated(**snap), "codeforces/2099Z"),
        _env(TestSetReplaced(**snap, test_case_count=4, test_set_version=1, mode="replace"), "codeforces/2099Z"),
        _env(
            ExecutionCompleted(
                execution_id=exec_id,
                user_id="u_newcomer",
                platform="codeforces",
                problem_id="2099Z",
                language="python3",
                verdict="WA",
                passed_count=1,
                total_count=2,
                completed_at=now,
                submitted_at=now,
            ),
            exec_id,
        ),
        _env(
            HintGenerated(
                request_id="h1",
                kind="execution",
                execution_id=exec_id,
                user_id="u_newcomer",
                source="offline",
                hints=[GeneratedHint(level=1, title="t", text="곱하기 2")],
                generated_at=now,
            ),
            exec_id,
        ),
        _env(
            UsageConsumed(
                user_id="u_newcomer",
                action="execution",
                request_id="req-00000001",
                day=now.date().isoformat(),
                at=now,
                plan_id="legacy-2",
            ),
            "u_newcomer",
        ),
        _env(
            UsageConsumed(
                user_id="u_newcomer",
                action="hint",
                request_id="req-00000002",
                day=now.date().isoformat(),
                at=now,
                plan_id="legacy-2",
            ),
            "u_newcomer",
        ),
        _env(
            UsageRefunded(
                user_id="u_newcomer",
                action="hint",
                request_id="req-00000002",
                day=now.date().isoformat(),
                at=now,
                reason="failed",
            ),
            "u_newcomer",
        ),
        _env(
            GenerationJobCreated(
                job_id="job-1",
                platform="codeforces",
                problem_id="2099Z",
                status="queued",
                total=5,
                updated_at=now,
                generator_source="registrar",
                counts={"small": 5},
                seed=1,
            ),
            "job-1",
        ),
    ]


def _legacy(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


async def test_post_cutover_changes_land_in_the_legacy_schema_once(legacy_db: str) -> None:
    from algoitny_migration.adapters.reverse_store import ReverseStore
    from algoitny_migration.service_layer.reverse_writer import ReverseWriter

    store = ReverseStore(legacy_db)
    store.ensure_schema()
    writer = ReverseWriter(store, FakePlatform(), FakePhases())
    events = _events()
    before_cutover = _env(
        UserRegistered(user_id="u_newcomer", role="user", plan_id="legacy-1", registered_at=CUTOVER),
        "u_newcomer",
        at=CUTOVER - timedelta(seconds=1),
    )
    for envelope, payload in [before_cutover, *events, *events]:  # everything delivered twice
        await writer.handle(envelope, payload)

    # AP (sign-in): the user by e-mail; Django's Argon2PasswordHasher verifies "argon2" + the PHC string.
    [(uid, password, plan, active)] = _legacy(
        legacy_db,
        "SELECT id, password, subscription_plan_id, is_active FROM users WHERE email = %s",
        "newcomer@platform.example",
    )
    algorithm, rest = password.split("$", 1)
    assert algorithm == "argon2" and PasswordHasher().verify("$" + rest, PASSWORD)
    assert plan == 2 and active
    # AP (problem with its test cases): by platform and number, cases in order, solution base64.
    [(pid, solution, completed)] = _legacy(
        legacy_db,
        "SELECT id, solution_code, is_completed FROM problems WHERE platform = %s AND problem_id = %s",
        "codeforces",
        "2099Z",
    )
    assert completed and solution == "cHJpbnQoNDIpCg=="
    cases = _legacy(
        legacy_db, "SELECT input, output FROM test_cases WHERE problem_id = %s ORDER BY created_at, id", pid
    )
    assert [c[1] for c in cases] == ["0\n", "2\n", "4\n", "big\n"] and len(cases[3][0]) == 150_000
    # AP (own history): newest first, the legacy formats.
    history = _legacy(
        legacy_db,
        "SELECT problem_number, result_summary, passed_count, failed_count, hints, test_results FROM search_history"
        " WHERE user_id = %s ORDER BY created_at DESC",
        uid,
    )
    assert len(history) == 1
    number, summary, passed, failed, hints, results = history[0]
    assert (number, summary, passed, failed, hints) == ("2099Z", "Failed", 1, 1, ["곱하기 2"])
    assert [r["passed"] for r in results] == [True, False]
    # AG (today's usage per action): the refunded hint is gone.
    usage = _legacy(legacy_db, "SELECT action, count(*) FROM usage_logs WHERE user_id = %s GROUP BY action", uid)
    assert usage == [("execution", 1)]
    [(status, _)] = _legacy(
        legacy_db, "SELECT status, celery_task_id FROM script_generation_jobs WHERE celery_task_id = 'job-1'"
    )
    assert status == "PENDING"

    report = store.verify()
    assert report.ok and report.checked >= 6, report.problems
    counts = store.counts()
    assert counts["applied_events"] == len(events)  # the pre-cutover event and the duplicates wrote nothing
    # Something lost on the legacy side is what the rollback gate finds.
    with psycopg.connect(legacy_db) as conn:
        conn.execute("DELETE FROM search_history WHERE user_id = %s", (uid,))
    assert any("search_history" in p and "missing" in p for p in store.verify().problems)


def test_the_freeze_makes_the_legacy_role_read_only_and_ends_its_sessions(legacy_db: str) -> None:
    from algoitny_migration.adapters.legacy_control import LegacyControl

    role = psycopg.conninfo.conninfo_to_dict(legacy_db)["user"]
    control = LegacyControl(legacy_db, str(role))
    app_session = psycopg.connect(legacy_db, autocommit=True, application_name="django")
    before = control.activity("no_such_slot")
    try:
        assert control.freeze() >= 1 and control.frozen()
        with pytest.raises(psycopg.OperationalError):
            app_session.execute("SELECT 1")  # the legacy application's open session was ended
        with psycopg.connect(legacy_db, autocommit=True) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("UPDATE users SET name = 'x' WHERE id = 1")
        after = control.activity("no_such_slot")
        assert after.changes == before.changes and after.open_writers == 0 and not after.slot_active
    finally:
        app_session.close()
        control.unfreeze()
    assert not control.frozen()
    with psycopg.connect(legacy_db, autocommit=True) as conn:
        conn.execute("UPDATE users SET name = name WHERE id = 1")
