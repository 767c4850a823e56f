"""Issue 23 through the gateway, problems side: hidden test data (item 13), hints on real judge
output (11), re-created problems in search (15), registrars bounded (16) and the smaller leaks
(18: problem hints of drafts and of earlier incarnations, hints and hidden data of public
executions, generation jobs and sandbox objects after a hard delete).

The hints service runs here against the real executions and problems services, with no Gemini
key: the offline fallback answers.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.generation_tools import AB_GENERATOR, AB_SOLUTION_PY, wait_job
from support.polling import eventually

from algoitny_accounts.settings import AccountsSettings
from algoitny_devtools.platform import Platform
from algoitny_shared import tokens
from algoitny_shared.buckets import SANDBOX_IO
from algoitny_shared.dynamo import s3
from algoitny_shared.settings import ServiceSettings

pytestmark = pytest.mark.e2e
API = "/api/v1"
HIDDEN_INPUT, HIDDEN_OUTPUT = "2000000000 2000000000\n", "4000000000\n"
OVERFLOW_CPP = "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}"


def _token(user_id: str, plan: str = "free", may_register: bool = False) -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=user_id, role="user", plan=plan, ttl_s=900, may_register=may_register)
    return {"authorization": f"Bearer {token}"}


def _uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _refused(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()  # type: ignore[no-any-return]


def _ab_problem(platform: str, problem_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "platform": platform,
        "problem_id": problem_id,
        "title": f"Sum {problem_id}",
        "status": "completed",
        "language": "python3",
        "reference_solution": AB_SOLUTION_PY,
        "time_limit_ms": 1000,
        "memory_limit_mb": 128,
        "test_cases": [
            {"input": "1 2\n", "output": "3\n", "is_sample": True},
            {"input": "40 2\n", "output": "42\n", "is_sample": True},
            {"input": HIDDEN_INPUT, "output": HIDDEN_OUTPUT},
        ],
        **extra,
    }


def _hint_usage(gateway: httpx.Client, headers: dict[str, str]) -> int:
    actions = _ok(gateway.get(f"{API}/me/usage", headers=headers))["actions"]
    return int(next(a["used"] for a in actions if a["action"] == "hint"))


@pytest.fixture(scope="module")
def hints(platform: Platform) -> Iterator[None]:
    platform.start("hints")
    try:
        platform.wait_ready(["hints"], timeout_s=60)
        yield
    finally:
        platform.kill("hints", signal.SIGTERM)


@pytest.fixture(scope="module")
def capped_plan(gateway: httpx.Client, admin_headers: dict[str, str]) -> str:
    plan_id = _uid("cap")
    body = {
        "plan_id": plan_id,
        "name": "Two problems",
        "daily_limits": {"execution": 100, "hint": 10},
        "may_register_problems": True,
        "max_registered_problems": 2,
    }
    _ok(gateway.post(f"{API}/admin/plans", json=body, headers=admin_headers), 201)
    return plan_id


def test_hidden_cases_stay_hidden_yet_judge_and_explain_the_submitters_own_failure(
    gateway: httpx.Client, admin_headers: dict[str, str], registrar_plan: str, hints: None
) -> None:
    """Items 13, 11 and 18 (hints and hidden data of a public execution)."""
    platform, pid = "sec", _uid("H")
    _ok(gateway.post(f"{API}/problems", json=_ab_problem(platform, pid), headers=admin_headers), 201)
    path = f"{API}/problems/{platform}/{pid}"
    alice_id = _uid("al")
    alice, bob = _token(alice_id), _token(_uid("bo"))
    stranger = _token(_uid("rg"), registrar_plan, may_register=True)  # a registrar, not this problem's

    for who in ({}, bob, stranger):
        page = _ok(gateway.get(f"{path}/testcases", headers=who))
        assert [c["output"] for c in page["items"]] == ["3\n", "42\n"] and page["test_case_count"] == 3
        detail = _ok(gateway.get(path, params={"include": "testcases"}, headers=who))
        assert [c["output"] for c in detail["test_cases"]] == ["3\n", "42\n"]
        assert HIDDEN_OUTPUT.strip() not in json.dumps(page) + json.dumps(detail)
        _refused(gateway.get(f"{path}/testcases", params={"ordinals": "3"}, headers=who), 403)
    full = _ok(gateway.get(f"{path}/testcases", headers=admin_headers))
    assert [c["output"] for c in full["items"]] == ["3\n", "42\n", HIDDEN_OUTPUT]

    # The judge still reads the whole set: the overflow fails the hidden test.
    body = {"platform": platform, "problem_id": pid, "language": "cpp17", "code": OVERFLOW_CPP, "public": True}
    eid = _ok(gateway.post(f"{API}/executions", json=body, headers=alice), 202)["execution_id"]

    def finished() -> dict[str, Any] | None:
        view: dict[str, Any] = _ok(gateway.get(f"{API}/executions/{eid}", headers=alice))
        return view if view["status"] == "completed" else None

    mine = eventually(finished, timeout_s=90, interval_s=0.3)
    assert mine["verdict"] == "WA" and mine["passed"] == 2
    failed = mine["tests"][2]
    assert (failed["input"], failed["expected"], failed["output"]) == (HIDDEN_INPUT, HIDDEN_OUTPUT, "-294967296\n")
    for who in ({}, bob):  # a public execution shows its verdicts and code, never the hidden case
        theirs = _ok(gateway.get(f"{API}/executions/{eid}", headers=who))
        assert theirs["code"] == OVERFLOW_CPP and theirs["tests"][2]["output"] == "-294967296\n"
        assert HIDDEN_INPUT.strip() not in json.dumps(theirs) and HIDDEN_OUTPUT.strip() not in json.dumps(theirs)

    # The offline hint names the overflow, from the real judge's output (item 11).
    hints_path = f"{API}/executions/{eid}/hints"
    _ok(gateway.post(hints_path, headers=alice), 202)

    def ready() -> dict[str, Any] | None:
        resp = gateway.get(hints_path, headers=alice)
        return resp.json() if resp.status_code == 200 and resp.json()["status"] == "ready" else None

    view = eventually(ready, timeout_s=60, interval_s=0.3)
    assert view["source"] == "fallback" and view["cause"] == "wa_overflow", view
    assert "4000000000" in json.dumps(view["hints"]) and "extra value" not in json.dumps(view["hints"])

    # The hints reach the owner's execution; nobody else sees them on the public execution.
    attached = eventually(
        lambda: _ok(gateway.get(f"{API}/executions/{eid}", headers=alice))["hints"], timeout_s=30, interval_s=0.3
    )
    assert any("4000000000" in h for h in attached)
    assert _ok(gateway.get(f"{API}/executions/{eid}", headers=bob))["hints"] == []
    assert _ok(gateway.get(f"{API}/executions/{eid}"))["hints"] == []


def test_registrars_manage_only_their_own_and_their_plan_cap_holds(
    gateway: httpx.Client, admin_headers: dict[str, str], capped_plan: str
) -> None:
    """Item 16, and item 18's hard delete of generation jobs and their sandbox objects."""
    platform = _uid("rg")
    reg = _token(_uid("r1"), capped_plan, may_register=True)
    secret = "print(sum(map(int, input().split())))  # ADMIN_SECRET_SOLUTION"
    draft = {**_ab_problem(platform, "D1"), "status": "draft", "reference_solution": secret}
    _ok(gateway.post(f"{API}/problems", json=draft, headers=admin_headers), 201)
    _ok(gateway.post(f"{API}/problems", json=_ab_problem(platform, "C1"), headers=admin_headers), 201)
    job = _ok(
        gateway.post(
            f"{API}/problems/{platform}/C1/generation-jobs",
            json={"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": {"small": 3}, "seed": 7},
            headers=admin_headers,
        ),
        201,
    )

    # An admin's draft, its reference solution and its cases are not the registrar's to see.
    _refused(gateway.get(f"{API}/problems/{platform}/D1", headers=reg), 404)
    _refused(gateway.get(f"{API}/problems/{platform}/D1/testcases", headers=reg), 404)
    drafts = _ok(gateway.get(f"{API}/problems", params={"status": "draft", "platform": platform}, headers=reg))
    assert drafts["items"] == []
    # An admin's problem is not the registrar's to change.
    _refused(gateway.patch(f"{API}/problems/{platform}/C1", json={"title": "Mine now"}, headers=reg), 403)
    _refused(gateway.delete(f"{API}/problems/{platform}/C1", params={"hard": "true"}, headers=reg), 403)
    _refused(gateway.delete(f"{API}/problems/{platform}/D1", params={"hard": "true"}, headers=reg), 404)
    _refused(gateway.post(f"{API}/problems/{platform}/D1/complete", headers=reg), 404)
    cases = {"test_cases": [{"input": "1 1\n", "output": "2\n"}]}
    _refused(gateway.put(f"{API}/problems/{platform}/C1/testcases", json=cases, headers=reg), 403)
    _refused(
        gateway.post(
            f"{API}/problems/{platform}/C1/generation-jobs",
            json={"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": {"small": 3}},
            headers=reg,
        ),
        403,
    )
    # Nor an admin's job: not readable (its programs), not cancellable, not listed.
    _refused(gateway.get(f"{API}/generation-jobs/{job['job_id']}", headers=reg), 404)
    _refused(gateway.post(f"{API}/generation-jobs/{job['job_id']}/cancel", headers=reg), 404)
    listed = _ok(gateway.get(f"{API}/generation-jobs", params={"platform": platform}, headers=reg))
    assert listed["items"] == []
    assert _ok(gateway.get(f"{API}/problems/{platform}/D1", headers=admin_headers))["reference_solution"] == secret

    # The plan allows two problems; a hard delete gives one back.
    mine = [
        _ok(gateway.post(f"{API}/problems", json=_ab_problem(platform, "R1"), headers=reg), 201),
        _ok(gateway.post(f"{API}/problems", json=_ab_problem(platform, "R2", status="draft"), headers=reg), 201),
    ]
    own_drafts = _ok(gateway.get(f"{API}/problems", params={"status": "draft", "platform": platform}, headers=reg))
    assert [p["problem_id"] for p in own_drafts["items"]] == ["R2"]  # their own draft, not the admin's
    over = _refused(gateway.post(f"{API}/problems", json=_ab_problem(platform, "R3"), headers=reg), 403)
    assert over["reason"] == "max_problems"
    own = _ok(gateway.get(f"{API}/problems/{platform}/R1/testcases", headers=reg))
    assert [c["output"] for c in own["items"]][-1] == HIDDEN_OUTPUT  # their own hidden cases
    _ok(gateway.patch(f"{API}/problems/{platform}/R1", json={"title": "Renamed"}, headers=reg))
    _ok(gateway.delete(f"{API}/problems/{platform}/R1", params={"hard": "true"}, headers=reg))
    _ok(gateway.post(f"{API}/problems", json=_ab_problem(platform, "R3"), headers=reg), 201)
    _refused(gateway.post(f"{API}/problems", json=_ab_problem(platform, "R4"), headers=reg), 403)
    assert [p["problem_id"] for p in mine] == ["R1", "R2"]

    # The admin's job ran in the sandbox; a hard delete takes the job and its sandbox objects too.
    assert wait_job(gateway, admin_headers, job["job_id"], timeout_s=120)["status"] == "succeeded"
    settings = ServiceSettings()
    bucket, client = SANDBOX_IO.physical(settings.namespace), s3(settings)

    def objects() -> int:
        keys = 0
        for prefix in (f"requests/{job['job_id']}.", f"results/{job['job_id']}."):
            keys += int(client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0))
        return keys

    assert objects() > 0
    _ok(gateway.delete(f"{API}/problems/{platform}/C1", params={"hard": "true"}, headers=admin_headers))
    _refused(gateway.get(f"{API}/generation-jobs/{job['job_id']}", headers=admin_headers), 404)
    assert objects() == 0


def _search_ids(gateway: httpx.Client, q: str) -> list[str]:
    return [h["problem_id"] for h in _ok(gateway.get(f"{API}/problems/search", params={"q": q}))["items"]]


def test_a_problem_created_again_after_a_hard_delete_is_found_again(
    gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    """Item 15."""
    platform, pid = _uid("sr"), "1000"
    old_word, new_word = f"kumquat{uuid.uuid4().hex[:6]}", f"persimmon{uuid.uuid4().hex[:6]}"
    body = {"platform": platform, "problem_id": pid, "status": "completed"}
    first = _ok(gateway.post(f"{API}/problems", json={**body, "title": f"Old {old_word}"}, headers=admin_headers), 201)
    eventually(lambda: pid in _search_ids(gateway, old_word), timeout_s=20)
    for title in ("a", "b", "c"):  # the first incarnation reaches a higher version than the next starts at
        _ok(
            gateway.patch(
                f"{API}/problems/{platform}/{pid}", json={"title": f"{title} {old_word}"}, headers=admin_headers
            )
        )
    _ok(gateway.delete(f"{API}/problems/{platform}/{pid}", params={"hard": "true"}, headers=admin_headers))
    eventually(lambda: pid not in _search_ids(gateway, old_word), timeout_s=20)
    again = _ok(gateway.post(f"{API}/problems", json={**body, "title": f"New {new_word}"}, headers=admin_headers), 201)
    eventually(lambda: pid in _search_ids(gateway, new_word), timeout_s=20)
    assert pid not in _search_ids(gateway, old_word)
    assert again["version"] > first["version"] + 4  # above the tombstone the delete left


def test_problem_hints_of_drafts_and_of_an_earlier_incarnation_are_neither_served_nor_charged(
    gateway: httpx.Client, admin_headers: dict[str, str], hints: None
) -> None:
    """Item 18: problem hints."""
    platform, pid = "sec", _uid("P")
    problem = {
        "platform": platform,
        "problem_id": pid,
        "title": "Hinted draft",
        "tags": ["greedy"],
        "constraints": "1 <= n <= 10^5",
    }
    _ok(gateway.post(f"{API}/problems", json=problem, headers=admin_headers), 201)
    path = f"{API}/problems/{platform}/{pid}/hints"
    _ok(gateway.post(path, headers=admin_headers), 202)

    def ready(headers: dict[str, str]) -> dict[str, Any] | None:
        resp = gateway.get(path, headers=headers)
        return resp.json() if resp.status_code == 200 and resp.json()["status"] == "ready" else None

    eventually(lambda: ready(admin_headers), timeout_s=30, interval_s=0.3)
    carol = _token(_uid("ca"))
    _refused(gateway.get(path, headers=carol), 404)  # a draft's hints are not served ...
    assert _hint_usage(gateway, carol) == 0  # ... nor charged
    _ok(gateway.post(f"{API}/problems/{platform}/{pid}/complete", headers=admin_headers))
    assert ready(carol) is not None and _hint_usage(gateway, carol) == 1
    _ok(gateway.delete(f"{API}/problems/{platform}/{pid}", params={"hard": "true"}, headers=admin_headers))
    _ok(gateway.post(f"{API}/problems", json={**problem, "status": "completed"}, headers=admin_headers), 201)
    # The new problem under the same id has no hints of its own yet: the old ones must not come back.
    dave = _token(_uid("da"))
    _refused(gateway.get(path, headers=dave), 404)
    assert _hint_usage(gateway, dave) == 0
