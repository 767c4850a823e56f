"""Migrated content through the gateway: a legacy Korean problem found by search with its test
cases, a legacy history in its original order, and old problem and execution ids resolving.

The legacy rows are produced Debezium-shaped onto the test namespace's legacy topics and applied
by the problems and executions importers (their real entrypoints)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.legacy_content_tools import Importers, case_row, problem_row, run_row, running_importers, send
from support.polling import eventually

from algoitny_devtools.platform import Platform
from algoitny_shared.legacy.identity import legacy_execution_id

pytestmark = [pytest.mark.e2e, pytest.mark.injects_legacy_rows]


@pytest.fixture(scope="module")
def importers(
    stack_env: dict[str, str], platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Importers]:
    with running_importers(stack_env, tmp_path_factory.mktemp("legacy-e2e"), ("problems", "executions")) as found:
        yield found


def test_migrated_problem_history_and_old_ids_through_the_gateway(
    importers: Importers, gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    word = f"고양이{uuid.uuid4().hex[:6]}"
    legacy_id = 70_000 + uuid.uuid4().int % 10_000
    number = str(92_000 + legacy_id % 1000)
    asyncio.run(send(importers, "test_cases", case_row(legacy_id * 10 + 2, legacy_id, "3 4\n", "2024-03-01T10:00:02Z")))
    asyncio.run(send(importers, "test_cases", case_row(legacy_id * 10 + 1, legacy_id, "1 2\n", "2024-03-01T10:00:01Z")))
    asyncio.run(send(importers, "problems", problem_row(legacy_id, number, f"{word} 두 수의 합")))
    runs = [
        run_row(
            legacy_id * 10 + n,
            f"2024-05-0{n}T09:00:00Z",
            problem_id=legacy_id,
            problem_number=number,
            is_code_public=True,
        )
        for n in (3, 1, 2)
    ]
    runs[0]["result_summary"] = json.dumps("Failed")
    for row in runs:
        asyncio.run(send(importers, "search_history", row))

    def found() -> list[dict[str, Any]] | None:
        resp = gateway.get("/api/v1/problems/search", params={"q": word})
        items = resp.json().get("items", []) if resp.status_code == 200 else []
        return items or None

    hit = eventually(found, timeout_s=45, interval_s=0.5)[0]
    assert hit["problem_id"] == number and hit["platform"] == "baekjoon"

    # The old problem id resolves; its test cases open (the whole set for an admin, in legacy order).
    def opened() -> dict[str, Any] | None:
        resp = gateway.get(
            f"/api/v1/problems/legacy/{legacy_id}", params={"include": "testcases"}, headers=admin_headers
        )
        body = resp.json() if resp.status_code == 200 else {}
        return body if len(body.get("test_cases") or []) == 2 else None

    problem = eventually(opened, timeout_s=30)
    assert problem["title"] == f"{word} 두 수의 합"
    assert [c["input"] for c in problem["test_cases"]] == ["1 2\n", "3 4\n"]
    assert gateway.get(f"/api/v1/problems/legacy/{legacy_id}").status_code == 200  # completed: anyone
    assert gateway.get("/api/v1/problems/legacy/1").status_code == 404

    # The history of the problem lists the migrated runs newest first, as they happened.
    ids = [legacy_execution_id(r["id"], _ms(r["created_at"])) for r in runs]

    def history() -> list[str] | None:
        resp = gateway.get(f"/api/v1/problems/baekjoon/{number}/history", headers=admin_headers)
        got = [i["execution_id"] for i in resp.json().get("items", [])] if resp.status_code == 200 else []
        return got if len(got) == 3 else None

    assert eventually(history, timeout_s=30) == sorted(ids, reverse=True)
    old = gateway.get(f"/api/v1/executions/legacy/{runs[0]['id']}")
    assert old.status_code == 200, old.text
    assert (
        old.json()["execution_id"] == ids[0] and old.json()["verdict"] == "WA" and old.json()["status"] == "completed"
    )
    assert gateway.get("/api/v1/executions/legacy/1").status_code == 404


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
