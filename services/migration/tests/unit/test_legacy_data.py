"""The legacy-data generator: deterministic, in the legacy formats, with the real oddities."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime

from algoitny_migration.domain.legacy_data import (
    COLUMNS,
    SCALES,
    TABLE_ORDER,
    django_pbkdf2_sha256,
    generate,
    password_of,
)
from algoitny_shared.legacy.canonical import password_usable
from algoitny_shared.legacy.changes import parse_change

NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
SMALL = dataclasses.replace(SCALES["small"], hashed_users=4)


def test_django_pbkdf2_sha256_is_djangos_encoding() -> None:
    # Django's format: pbkdf2_sha256$<iterations>$<salt>$<base64 of the PBKDF2-HMAC-SHA256 digest>.
    encoded = django_pbkdf2_sha256("lètmein", "seasalt", 1_000)
    algo, iterations, salt, digest = encoded.split("$")
    assert (algo, iterations, salt) == ("pbkdf2_sha256", "1000", "seasalt")
    raw = hashlib.pbkdf2_hmac("sha256", "lètmein".encode(), b"seasalt", 1_000)
    assert base64.b64decode(digest) == raw


def test_same_seed_and_time_give_the_same_rows() -> None:
    a = generate(SMALL, 3, NOW)
    b = generate(SMALL, 3, NOW)
    assert a.rows == b.rows and a.orphans == b.orphans
    assert generate(SMALL, 4, NOW).rows["users"] != a.rows["users"]


def test_rows_are_in_the_legacy_formats_and_parse_as_debezium_would_deliver_them() -> None:
    ds = generate(SMALL, 15, NOW)
    for table in TABLE_ORDER:
        assert ds.rows[table], table
        for row in ds.rows[table] + ds.orphans[table]:
            assert tuple(row) == COLUMNS[table]
            # As Debezium delivers it: datetimes ISO, jsonb as JSON text.
            value = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
            change = parse_change(table, None, json.dumps(value))
            assert change is not None
            change.typed()
    history = ds.rows["search_history"]
    assert {json.loads(h["result_summary"]) for h in history} == {"Passed", "Failed"}
    assert all((json.loads(h["result_summary"]) == "Passed") == (h["failed_count"] == 0) for h in history)
    assert all(h["passed_count"] + h["failed_count"] == h["total_count"] for h in history)
    assert any(h["hints"] and isinstance(json.loads(h["hints"]), list) for h in history)
    assert any(h["test_results"] is None for h in history) and any(h["user_id"] is None for h in history)
    problems = ds.rows["problems"]
    titles = " ".join(p["title"] for p in problems)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in titles) and any(ch.isascii() and ch.isalpha() for ch in titles)
    assert any(p["is_deleted"] for p in problems) and any(not p["is_completed"] for p in problems)
    assert any(p["solution_code"] is None for p in problems)
    code = next(p["solution_code"] for p in problems if p["solution_code"])
    assert base64.b64decode(code).decode()
    sizes = [len(t["input"]) for t in ds.rows["test_cases"]]
    assert min(sizes) < 16 and max(sizes) > 100 * 1024
    plans = {p["name"]: p for p in ds.rows["subscription_plans"]}
    assert plans["Admin"]["max_hints_per_day"] == -1 and not plans["Beta 2024"]["is_active"]


def test_users_sign_in_with_documented_passwords_or_google_only() -> None:
    ds = generate(SMALL, 15, NOW)
    users = ds.rows["users"]
    hashed = [u for u in users if u["password"].startswith("pbkdf2_sha256$")]
    assert len(hashed) == SMALL.hashed_users
    for u in hashed:
        _, iterations, salt, digest = u["password"].split("$")
        raw = hashlib.pbkdf2_hmac("sha256", password_of(u["id"]).encode(), salt.encode(), int(iterations))
        assert base64.b64encode(raw).decode() == digest
    google_only = [u for u in users if not password_usable(u["password"])]
    assert google_only and all(len(u["password"]) == 41 for u in google_only)
    lower = Counter(u["email"].lower() for u in users + ds.orphans["users"])
    assert any(n > 1 for n in lower.values()), "e-mails differing only in case"
    assert len({u["email"] for u in users}) == len(users), "Django's unique is case-sensitive"
    assert any(u["subscription_plan_id"] is None for u in users)


def test_todays_usage_and_orphans() -> None:
    ds = generate(SMALL, 15, NOW)
    today = [u for u in ds.rows["usage_logs"] if u["created_at"].date() == NOW.date()]
    assert today and all(u["created_at"] <= NOW for u in today)
    assert {u["action"] for u in today} == {"hint", "execution"}
    user_ids = {u["id"] for u in ds.rows["users"]}
    problem_ids = {p["id"] for p in ds.rows["problems"]}
    assert any(h["user_id"] not in user_ids for h in ds.orphans["search_history"])
    assert any(t["problem_id"] not in problem_ids for t in ds.orphans["test_cases"])
    assert all(row["created_at"] < NOW for t in TABLE_ORDER for row in ds.rows[t] if "created_at" in row)
