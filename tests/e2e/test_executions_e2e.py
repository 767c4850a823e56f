"""Executions through the gateway: judged A+B in C++ and Python (GET and SSE), wrong answers,
visibility of private code, feed paging, custom runs, bad input and the admin problem history."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens
from algoitny_shared.settings import ServiceSettings

pytestmark = pytest.mark.e2e

API = "/api/v1"
CPP_AC = "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}"
PY_AC = "a, b = map(int, input().split())\nprint(a + b)"
PY_WA = "a, b = map(int, input().split())\nprint(a - b)"
TESTS = 10


def user_headers(user_id: str | None = None) -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=user_id or f"x{uuid.uuid4().hex[:10]}", role="user", plan="pro", ttl_s=900)
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def aplusb(gateway: httpx.Client, admin_headers: dict[str, str]) -> tuple[str, str]:
    problem_id = f"ab{uuid.uuid4().hex[:8]}"
    # Two samples, eight hidden tests: judging all ten proves the test set came from the problems
    # service's test-case route (not the samples fallback).
    cases = [{"input": f"{i} {i * 3 + 1}\n", "output": f"{i * 4 + 1}\n", "is_sample": i < 2} for i in range(TESTS)]
    resp = gateway.post(
        f"{API}/problems",
        json={
            "platform": "e2ejudge",
            "problem_id": problem_id,
            "title": "A+B",
            "status": "completed",
            "time_limit_ms": 1000,
            "memory_limit_mb": 128,
            "test_cases": cases,
        },
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    return "e2ejudge", problem_id


def submit(
    gateway: httpx.Client,
    headers: dict[str, str],
    problem: tuple[str, str],
    language: str,
    code: str,
    public: bool = False,
) -> str:
    body = {"platform": problem[0], "problem_id": problem[1], "language": language, "code": code, "public": public}
    resp = gateway.post(f"{API}/executions", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    data = resp.json()
    assert resp.headers["location"] == f"{API}/executions/{data['execution_id']}"
    return str(data["execution_id"])


def wait_done(gateway: httpx.Client, headers: dict[str, str], execution_id: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = gateway.get(f"{API}/executions/{execution_id}", headers=headers).json()
        if body["status"] == "completed":
            return body
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} not judged in {timeout_s} s: {body}")


def sse(gateway: httpx.Client, headers: dict[str, str], execution_id: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    with gateway.stream("GET", f"{API}/executions/{execution_id}/events", headers=headers, timeout=60) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line[6:])))
    return events


@pytest.mark.parametrize(("language", "code"), [("cpp17", CPP_AC), ("python3", PY_AC)])
def test_aplusb_is_accepted_seen_by_get_and_sse(
    gateway: httpx.Client, aplusb: tuple[str, str], language: str, code: str
) -> None:
    headers = user_headers()
    execution_id = submit(gateway, headers, aplusb, language, code)
    events = sse(gateway, headers, execution_id)
    names = [n for n, _ in events]
    assert names[0] == "status" and names[-1] == "completed", names
    tests = [d for n, d in events if n == "test"]
    assert [t["index"] for t in tests] == list(range(TESTS)) and {t["verdict"] for t in tests} == {"AC"}
    assert events[-1][1]["verdict"] == "AC" and events[-1][1]["passed"] == TESTS
    assert "code" not in events[-1][1]
    body = wait_done(gateway, headers, execution_id)
    assert body["verdict"] == "AC" and body["passed"] == body["total"] == TESTS
    assert body["code"] == code and body["code_visible"] and body["language"] == language
    assert len(body["tests"]) == TESTS and all(t["time_ms"] >= 0 and t["memory_kb"] > 0 for t in body["tests"])


def test_wrong_answer_reports_the_first_failing_test(gateway: httpx.Client, aplusb: tuple[str, str]) -> None:
    headers = user_headers()
    body = wait_done(gateway, headers, submit(gateway, headers, aplusb, "python3", PY_WA))
    assert body["verdict"] == "WA"
    # test 0 is "0 1" -> a-b = -1 (wrong); every test fails; all run by default
    assert body["passed"] == 0 and body["total"] == TESTS and body["tests"][0]["verdict"] == "WA"
    assert body["tests"][0]["output"].strip() == "-1"
    resp = gateway.post(
        f"{API}/executions",
        json={
            "platform": aplusb[0],
            "problem_id": aplusb[1],
            "language": "python3",
            "code": PY_WA,
            "stop_on_first_failure": True,
        },
        headers=headers,
    )
    stopped = wait_done(gateway, headers, resp.json()["execution_id"])
    assert stopped["verdict"] == "WA" and [t["verdict"] for t in stopped["tests"]] == ["WA"] + ["SK"] * (TESTS - 1)


def test_private_code_is_invisible_to_others(gateway: httpx.Client, aplusb: tuple[str, str]) -> None:
    owner, other = user_headers(), user_headers()
    private = submit(gateway, owner, aplusb, "python3", PY_AC, public=False)
    public = submit(gateway, owner, aplusb, "python3", PY_AC + "\n# public", public=True)
    wait_done(gateway, owner, private)
    wait_done(gateway, owner, public)
    for headers in (other, {}):
        resp = gateway.get(f"{API}/executions/{private}", headers=headers)
        assert resp.status_code == 403 and resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["instance"] == f"{API}/executions/{private}"
        events = gateway.get(f"{API}/executions/{private}/events", headers=headers)
        assert events.status_code == 403 and events.json()["code"] == "FORBIDDEN"
    seen = gateway.get(f"{API}/executions/{public}", headers=other).json()
    assert seen["code"].endswith("# public") and seen["code_visible"]
    for scope in ("public", "feed"):
        page = gateway.get(f"{API}/history", params={"scope": scope, "limit": 100}, headers=other).json()
        ids = {i["execution_id"] for i in page["items"]}
        assert private not in ids and public in ids
        assert all("code" not in i for i in page["items"])
    mine = gateway.get(f"{API}/history", params={"scope": "mine"}, headers=owner).json()
    assert [i["execution_id"] for i in mine["items"][:2]] == [public, private]
    assert gateway.get(f"{API}/history", params={"scope": "mine"}).status_code == 401


def test_feed_pages_merge_own_and_public_exactly(gateway: httpx.Client, aplusb: tuple[str, str]) -> None:
    me, someone = user_headers(), user_headers()
    bad = "print(0)"  # judged quickly (WA), the feed does not care about verdicts
    for i in range(4):
        submit(gateway, me, aplusb, "python3", bad, public=i % 2 == 0)
        submit(gateway, someone, aplusb, "python3", bad, public=i % 2 == 1)
        submit(gateway, someone, aplusb, "python3", bad, public=False)

    def walk(scope: str, limit: int) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"scope": scope, "limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = gateway.get(f"{API}/history", params=params, headers=me).json()
            ids += [i["execution_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return ids

    mine, public = walk("mine", 100), walk("public", 100)
    expected = sorted(set(mine) | set(public), reverse=True)
    feed = walk("feed", 3)
    assert feed == expected and len(feed) == len(set(feed))
    assert len(mine) == 4
    bad_cursor = gateway.get(f"{API}/history", params={"scope": "feed", "cursor": "nope"}, headers=me)
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "INVALID_CURSOR"


def test_custom_run_returns_output_and_compile_errors(gateway: httpx.Client) -> None:
    headers = user_headers()
    resp = gateway.post(f"{API}/runs", json={"language": "python3", "code": PY_AC, "stdin": "2 40\n"}, headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["verdict"] == "OK" and body["stdout"] == "42\n" and "ratelimit-remaining" in resp.headers
    ce = gateway.post(
        f"{API}/runs", json={"language": "cpp17", "code": "int main( { return 0; }", "stdin": ""}, headers=headers
    ).json()
    assert ce["verdict"] == "CE" and "error" in ce["compile_message"]
    assert gateway.post(f"{API}/runs", json={"language": "python3", "code": PY_AC}).status_code == 401


def test_a_full_judge_refuses_runs_at_once_with_retry_after_and_no_charge(gateway: httpx.Client) -> None:
    """Issue 23 item 6: beyond the judge's slots and queue (2 + 4 here) a run is a 503 with
    Retry-After at once (not a request hanging on a slot), and it uses up nothing."""
    from concurrent.futures import ThreadPoolExecutor

    headers = user_headers()
    sleeper = {"language": "python3", "code": "import time\ntime.sleep(2)\nprint('done')", "stdin": ""}

    def run() -> tuple[httpx.Response, float]:
        t0 = time.monotonic()
        resp = gateway.post(f"{API}/runs", json=sleeper, headers=headers)
        return resp, time.monotonic() - t0

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: run(), range(12)))
    ok = [r for r, _ in answers if r.status_code == 200]
    busy = [(r, s) for r, s in answers if r.status_code == 503]
    assert len(ok) + len(busy) == 12, [r.text for r, _ in answers]
    assert ok and all(r.json()["stdout"] == "done\n" for r in ok)
    assert len(busy) >= 4, [r.status_code for r, _ in answers]
    # Refused at once: sooner than any admitted run, which sleeps 2 s in a slot (measured against
    # those runs, not the clock, so a loaded machine slows both alike).
    quickest_run = min(s for r, s in answers if r.status_code == 200)
    for resp, seconds in busy:
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert int(resp.headers["retry-after"]) >= 1
        assert seconds < quickest_run, f"a refusal took {seconds:.2f} s, a run {quickest_run:.2f} s"
    used = gateway.get(f"{API}/me/usage", headers=headers).json()
    assert next(a for a in used["actions"] if a["action"] == "execution")["used"] == len(ok)


def test_a_problem_created_again_under_the_same_id_is_judged_with_its_new_cases(
    gateway: httpx.Client, admin_headers: dict[str, str]
) -> None:
    """Issue 23 item 14: after a hard delete and a new problem under the same id (whose test-set
    version is 1 again), the judge must not use the cached cases of the deleted one."""
    problem = ("e2ejudge", f"re{uuid.uuid4().hex[:8]}")

    def create(op: str) -> None:
        cases = [
            {"input": f"{i} {i + 5}\n", "output": f"{i + i + 5 if op == '+' else -5}\n", "is_sample": i == 0}
            for i in range(3)
        ]
        body = {"platform": problem[0], "problem_id": problem[1], "title": f"A{op}B", "status": "completed"}
        resp = gateway.post(f"{API}/problems", json={**body, "test_cases": cases}, headers=admin_headers)
        assert resp.status_code == 201, resp.text

    headers = user_headers()
    create("+")
    assert wait_done(gateway, headers, submit(gateway, headers, problem, "python3", PY_AC))["verdict"] == "AC"
    hard = gateway.delete(f"{API}/problems/{problem[0]}/{problem[1]}", params={"hard": "true"}, headers=admin_headers)
    assert hard.status_code == 200, hard.text
    create("-")
    assert wait_done(gateway, headers, submit(gateway, headers, problem, "python3", PY_AC))["verdict"] == "WA"
    assert wait_done(gateway, headers, submit(gateway, headers, problem, "python3", PY_WA))["verdict"] == "AC"


def test_bad_input_answers_problem_json(
    gateway: httpx.Client, aplusb: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    headers = user_headers()
    base = {"platform": aplusb[0], "problem_id": aplusb[1], "language": "python3", "code": PY_AC}
    draft_id = f"dr{uuid.uuid4().hex[:8]}"
    created = gateway.post(
        f"{API}/problems",
        json={"platform": "e2ejudge", "problem_id": draft_id, "title": "Draft", "status": "draft"},
        headers=admin_headers,
    )
    assert created.status_code == 201
    cases = [
        ({**base, "language": "cobol"}, 422, "VALIDATION_FAILED"),
        ({**base, "code": "   \n"}, 422, "VALIDATION_FAILED"),
        ({**base, "code": "x" * (64 * 1024 + 1)}, 422, "VALIDATION_FAILED"),
        ({**base, "problem_id": "nosuch9"}, 404, "NOT_FOUND"),
        ({**base, "problem_id": draft_id}, 404, "NOT_FOUND"),  # a draft does not exist for users
        ({**base, "problem_id": "../etc"}, 422, "VALIDATION_FAILED"),
        ({**base, "user_id": "someone-else"}, 422, "VALIDATION_FAILED"),
    ]
    for body, status, code in cases:
        resp = gateway.post(f"{API}/executions", json=body, headers=headers)
        assert resp.status_code == status and resp.json()["code"] == code, (body.get("language"), resp.text[:300])
        assert resp.headers["content-type"].startswith("application/problem+json")
    # an admin sees drafts, but a draft takes no submissions
    resp = gateway.post(f"{API}/executions", json={**base, "problem_id": draft_id}, headers=admin_headers)
    assert resp.status_code == 409 and "draft" in resp.json()["detail"]
    malformed = gateway.post(f"{API}/executions", content=b"{", headers={**headers, "content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["code"] == "MALFORMED_JSON"
    assert gateway.get(f"{API}/executions/not-an-id", headers=headers).status_code == 422
    assert gateway.get(f"{API}/executions/{'0' * 26}", headers=headers).status_code == 404


def test_admin_lists_a_problems_history_without_clashing_with_problem_routes(
    gateway: httpx.Client, aplusb: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    headers = user_headers()
    execution_id = submit(gateway, headers, aplusb, "python3", PY_AC)
    path = f"{API}/problems/{aplusb[0]}/{aplusb[1]}/history"
    page = gateway.get(path, params={"limit": 100}, headers=admin_headers).json()
    assert execution_id in [i["execution_id"] for i in page["items"]]
    assert gateway.get(path, headers=headers).status_code == 403
    assert gateway.get(f"{API}/problems/{aplusb[0]}/{aplusb[1]}").json()["title"] == "A+B"


def test_a_registered_users_name_comes_from_accounts_not_from_the_body(
    gateway: httpx.Client, aplusb: tuple[str, str]
) -> None:
    email = f"judge-{uuid.uuid4().hex[:8]}@e2e-mail.dev"
    pair = gateway.post(
        f"{API}/auth/register", json={"email": email, "password": "correct horse battery", "name": "Grace H"}
    )
    assert pair.status_code == 201, pair.text
    headers = {"authorization": f"Bearer {pair.json()['access_token']}"}
    execution_id = submit(gateway, headers, aplusb, "python3", PY_AC, public=True)
    body = wait_done(gateway, headers, execution_id)
    assert body["user_name"] == "Grace H" and body["verdict"] == "AC"
    page = gateway.get(f"{API}/history", params={"scope": "public", "limit": 50}).json()  # anonymous
    assert any(i["execution_id"] == execution_id and i["user_name"] == "Grace H" for i in page["items"])


def test_an_internal_error_found_by_a_worker_refunds_the_gateways_charge(
    gateway: httpx.Client, aplusb: tuple[str, str], bootstrap: str
) -> None:
    """The gateway's charge key reaches the job; an IE completion for it gives the execution back."""
    import asyncio

    from support.kafka_tools import produce, read_topic

    from algoitny_shared.events import REGISTRY, EventEnvelope
    from algoitny_shared.events.catalog import ChargeRef, ExecutionCompleted
    from algoitny_shared.topics import EXECUTION_EVENTS, EXECUTION_JOBS

    key = f"ie-refund-{uuid.uuid4().hex}"
    headers = {**user_headers(), "idempotency-key": key}
    execution_id = submit(gateway, headers, aplusb, "python3", PY_AC)

    def usage() -> int:
        body = gateway.get(f"{API}/me/usage", headers=headers).json()
        return int(next(a for a in body["actions"] if a["action"] == "execution")["used"])

    assert usage() == 1
    namespace = ServiceSettings().namespace
    jobs = asyncio.run(
        read_topic(
            bootstrap,
            EXECUTION_JOBS.physical(namespace),
            expect=1,
            match=lambda r: EventEnvelope.from_bytes(r.value).aggregate_id == execution_id,
        )
    )
    charge = EventEnvelope.from_bytes(jobs[0].value).payload["charge"]
    # The gateway's own charge id for this attempt (never the client's key: a key is claimed, not charged).
    assert charge["request_id"] and charge["request_id"] != key
    wait_done(gateway, headers, execution_id)
    # What a worker publishes when the judge fails internally after its retries (IE):
    now = datetime.now(UTC)
    completed = ExecutionCompleted(
        execution_id=execution_id,
        user_id="ignored",
        platform=aplusb[0],
        problem_id=aplusb[1],
        language="python3",
        public=False,
        verdict="IE",
        passed_count=0,
        total_count=0,
        max_time_ms=0,
        max_memory_kb=0,
        charge=ChargeRef(**charge),
        submitted_at=now,
        completed_at=now,
        judge_ms=1,
    )
    owner = EventEnvelope.from_bytes(jobs[0].value).payload["user_id"]
    completed = completed.model_copy(update={"user_id": owner})
    envelope = REGISTRY.envelope(completed, producer="executions", aggregate_id=execution_id, aggregate_version=2)
    asyncio.run(produce(bootstrap, EXECUTION_EVENTS.physical(namespace), envelope.to_bytes(), envelope.key))
    deadline = time.monotonic() + 30
    while usage() != 0:
        assert time.monotonic() < deadline, "the IE charge was not refunded"
        time.sleep(0.3)


def test_owner_toggles_visibility_and_the_public_feed_follows(
    gateway: httpx.Client, aplusb: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    owner, other = user_headers(), user_headers()
    eid = submit(gateway, owner, aplusb, "python3", PY_AC)

    def public_ids() -> list[str]:
        resp = gateway.get(f"{API}/history", params={"scope": "public", "limit": 100})
        assert resp.status_code == 200, resp.text
        return [e["execution_id"] for e in resp.json()["items"]]

    path = f"{API}/executions/{eid}"
    assert eid not in public_ids()
    assert gateway.patch(path, json={"public": True}).status_code == 401
    denied = gateway.patch(path, json={"public": True}, headers=other)
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("application/problem+json")
    for bad in ({"public": True, "code": "x"}, {"public": "yes"}, {}):
        assert gateway.patch(path, json=bad, headers=owner).status_code == 422, bad

    made_public = gateway.patch(path, json={"public": True}, headers=owner)
    assert made_public.status_code == 200, made_public.text
    assert made_public.json()["public"] is True and made_public.json()["code"] == PY_AC
    assert eid in public_ids()
    seen = gateway.get(path, headers=other)
    assert seen.status_code == 200 and seen.json()["code"] == PY_AC
    # Public now, but still only its owner's (or an admin's) to change.
    assert gateway.patch(path, json={"public": False}, headers=other).status_code == 403

    made_private = gateway.patch(path, json={"public": False}, headers=admin_headers)
    assert made_private.status_code == 200 and made_private.json()["public"] is False
    assert eid not in public_ids()
    assert gateway.get(path, headers=other).status_code == 403
    missing = gateway.patch(f"{API}/executions/{'0' * 26}", json={"public": True}, headers=owner)
    assert missing.status_code == 404
