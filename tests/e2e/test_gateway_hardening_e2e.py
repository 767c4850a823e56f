"""Hostile input at the gateway (issue 23, items 1, 2, 4 and 8), as an outsider would send it.

- a reused Idempotency-Key (or X-Request-ID) must never buy a second judged run: a replay gets
  the first answer, a different body under the same key is a 422;
- a metered request the service refuses (404, 422) costs nothing;
- dot segments in path parameters, in any encoding, never reach a service's /metrics, /readyz
  or /openapi.json, and the gateway's own /metrics needs the operator token;
- a test-set upload is refused before its body is read when the sender may not upload.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from algoitny_accounts.settings import AccountsSettings
from algoitny_devtools.platform import Platform
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e

API = "/api/v1"
PY_WA = "print(0)"


def _free_user() -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=f"h{uuid.uuid4().hex[:10]}", role="user", plan="free", ttl_s=900)
    return {"authorization": f"Bearer {token}"}


def _used(gateway: httpx.Client, headers: dict[str, str], action: str = "execution") -> int:
    usage = gateway.get(f"{API}/me/usage", headers=headers)
    assert usage.status_code == 200, usage.text
    return int(next(a for a in usage.json()["actions"] if a["action"] == action)["used"])


def _mine(gateway: httpx.Client, headers: dict[str, str]) -> list[str]:
    page = gateway.get(f"{API}/history", params={"scope": "mine", "limit": 100}, headers=headers)
    assert page.status_code == 200, page.text
    return [i["execution_id"] for i in page.json()["items"]]


@pytest.fixture(scope="module")
def problem(gateway: httpx.Client, admin_headers: dict[str, str]) -> tuple[str, str]:
    problem_id = f"hg{uuid.uuid4().hex[:8]}"
    resp = gateway.post(
        f"{API}/problems",
        json={
            "platform": "e2ehard",
            "problem_id": problem_id,
            "title": "Echo one",
            "status": "completed",
            "time_limit_ms": 1000,
            "memory_limit_mb": 128,
            "test_cases": [{"input": "1\n", "output": "1\n", "is_sample": True}],
        },
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    return "e2ehard", problem_id


# --------------------------------------------------------------------------- item 1


def test_a_reused_idempotency_key_replays_the_first_answer_and_creates_nothing_new(
    gateway: httpx.Client, problem: tuple[str, str]
) -> None:
    headers = _free_user()
    key = {"idempotency-key": f"k-{uuid.uuid4().hex}"}
    body = {"platform": problem[0], "problem_id": problem[1], "language": "python3", "code": PY_WA}
    answers = [gateway.post(f"{API}/executions", json=body, headers={**headers, **key}) for _ in range(6)]
    assert {a.status_code for a in answers} == {202}, answers[0].text
    ids = {a.json()["execution_id"] for a in answers}
    assert len(ids) == 1, ids
    assert all(a.headers["location"] == answers[0].headers["location"] for a in answers)
    assert {a.headers.get("idempotent-replayed") for a in answers[1:]} == {"true"}
    assert _mine(gateway, headers) == list(ids)
    assert _used(gateway, headers) == 1

    # The same key with another body is the IETF draft's 422, and runs nothing.
    other = gateway.post(f"{API}/executions", json={**body, "code": "print(1)"}, headers={**headers, **key})
    assert other.status_code == 422 and other.json()["code"] == "VALIDATION_FAILED", other.text
    # ... also on another metered route.
    elsewhere = gateway.post(f"{API}/runs", json={"language": "python3", "code": PY_WA}, headers={**headers, **key})
    assert elsewhere.status_code == 422, elsewhere.text
    assert _mine(gateway, headers) == list(ids) and _used(gateway, headers) == 1

    # Custom runs: one run, whatever the number of retries.
    run_key = {"idempotency-key": f"r-{uuid.uuid4().hex}"}
    run = {"language": "python3", "code": "import random\nprint(random.random())"}
    runs = [gateway.post(f"{API}/runs", json=run, headers={**headers, **run_key}) for _ in range(3)]
    assert {r.status_code for r in runs} == {200}, runs[0].text
    assert len({r.json()["stdout"] for r in runs}) == 1  # the first run's random number, replayed
    assert _used(gateway, headers) == 2


def test_concurrent_duplicates_create_one_execution(
    platform: Platform, gateway: httpx.Client, problem: tuple[str, str]
) -> None:
    headers = {**_free_user(), "idempotency-key": f"c-{uuid.uuid4().hex}"}
    body = {"platform": problem[0], "problem_id": problem[1], "language": "python3", "code": PY_WA}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=platform.url("gateway"), timeout=30) as client:
            return list(
                await asyncio.gather(*(client.post(f"{API}/executions", json=body, headers=headers) for _ in range(12)))
            )

    answers = asyncio.run(burst())
    assert {a.status_code for a in answers} <= {202, 409}, [a.text for a in answers]
    ids = {a.json()["execution_id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1
    assert _mine(gateway, headers) == list(ids) and _used(gateway, headers) == 1


def test_admins_are_not_metered_but_their_keys_hold(
    gateway: httpx.Client, admin_headers: dict[str, str], problem: tuple[str, str]
) -> None:
    headers = {**admin_headers, "idempotency-key": f"a-{uuid.uuid4().hex}"}
    body = {"platform": problem[0], "problem_id": problem[1], "language": "python3", "code": PY_WA}
    answers = [gateway.post(f"{API}/executions", json=body, headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {202}, answers[0].text
    assert len({a.json()["execution_id"] for a in answers}) == 1
    assert "ratelimit-limit" not in answers[0].headers


def test_a_reused_request_id_does_not_make_requests_free(gateway: httpx.Client, problem: tuple[str, str]) -> None:
    headers = {**_free_user(), "x-request-id": f"same-{uuid.uuid4().hex}"}
    body = {"platform": problem[0], "problem_id": problem[1], "language": "python3", "code": PY_WA}
    answers = [gateway.post(f"{API}/executions", json=body, headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["execution_id"] for a in answers}) == 3
    assert _used(gateway, headers) == 3


# --------------------------------------------------------------------------- item 2


def test_client_errors_on_metered_routes_cost_nothing(gateway: httpx.Client, problem: tuple[str, str]) -> None:
    headers = _free_user()
    good = {"platform": problem[0], "problem_id": problem[1], "language": "python3", "code": PY_WA}
    refused = [
        (gateway.post(f"{API}/executions", json={**good, "problem_id": "nope404"}, headers=headers), 404),
        (gateway.post(f"{API}/executions", json={**good, "language": "cobol"}, headers=headers), 422),
        (gateway.post(f"{API}/executions", json={"code": 1}, headers=headers), 422),
        (gateway.post(f"{API}/runs", json={"language": "cobol", "code": PY_WA}, headers=headers), 422),
        (
            gateway.post(
                f"{API}/executions",
                json={**good, "problem_id": "nope404"},
                headers={**headers, "idempotency-key": f"e-{uuid.uuid4().hex}"},
            ),
            404,
        ),
    ]
    assert [r.status_code for r, _ in refused] == [code for _, code in refused], [r.text for r, _ in refused]
    assert _used(gateway, headers) == 0
    assert _mine(gateway, headers) == []
    # A refused request's key is free again: the corrected request under it runs (and is charged).
    key = {"idempotency-key": f"f-{uuid.uuid4().hex}"}
    assert (
        gateway.post(f"{API}/executions", json={**good, "language": "x"}, headers={**headers, **key}).status_code == 422
    )
    fixed = gateway.post(f"{API}/executions", json=good, headers={**headers, **key})
    assert fixed.status_code == 202, fixed.text
    assert _used(gateway, headers) == 1


# --------------------------------------------------------------------------- item 4


def _raw_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET with the path sent exactly as written (no client-side dot-segment normalisation)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/problems/%2e%2e/metrics",
        "/api/v1/problems/%2E%2E/metrics",
        "/api/v1/problems/../metrics",
        "/api/v1/problems/.%2e/metrics",
        "/api/v1/problems/%252e%252e/metrics",
        "/api/v1/problems/%2e%2e/readyz",
        "/api/v1/problems/%2e%2e/openapi.json",
        "/api/v1/problems/%2e/%2e%2e",
        "/api/v1/problems/x/%2e%2e/testcases",
        "/api/v1/executions/%2e%2e/hints",
        "/api/v1/users/%2e%2e/stats",
        "/api/v1/generation-jobs/%2e%2e",
    ],
)
def test_dot_segments_in_path_parameters_are_404(platform: Platform, path: str) -> None:
    status, body = _raw_get(platform.url("gateway"), path)
    assert status == 404, (status, body[:300])
    assert "# HELP" not in body and '"ready"' not in body and '"openapi"' not in body


def test_the_gateway_metrics_need_the_operator_token(platform: Platform, admin_headers: dict[str, str]) -> None:
    status, body = _raw_get(platform.url("gateway"), "/metrics")
    assert status == 401 and "# HELP" not in body, (status, body[:200])
    status, body = _raw_get(platform.url("gateway"), "/metrics", {"authorization": "Bearer nope"})
    assert status == 401
    status, body = _raw_get(platform.url("gateway"), "/metrics", admin_headers)
    assert status == 200 and "# HELP" in body


# --------------------------------------------------------------------------- item 8


def _upload_answer(base: str, path: str, headers: dict[str, str], declared: int) -> tuple[float, bytes]:
    """Declare a large body, send only its first 16 KiB, and wait for the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"content-length: {declared}\r\n{head}\r\n".encode()
        )
        started = time.monotonic()
        # A little of the body (small enough for the server to take in whole: a close with unread
        # bytes would be a reset that may swallow the answer); the rest never comes.
        sock.sendall(b'{"test_cases": [' + b" " * 16_384)
        sock.settimeout(8)
        answer = sock.recv(4096)
        return time.monotonic() - started, answer


@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_an_upload_is_refused_before_its_body_is_read(platform: Platform, who: str) -> None:
    headers = {} if who == "anonymous" else _free_user()
    expected = b"401" if who == "anonymous" else b"403"
    try:
        elapsed, answer = _upload_answer(
            platform.url("gateway"), "/api/v1/problems/e2ehard/any/testcases", headers, 60 * 1024 * 1024
        )
    except TimeoutError:
        raise AssertionError("the gateway waited for the whole body before refusing the upload") from None
    assert answer.startswith(b"HTTP/1.1 " + expected), answer[:200]
    assert elapsed < 8


def test_an_allowed_upload_streams_through(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    """A chunked upload (no declared length) goes through, and the gateway's limit still holds."""
    pid = f"up{uuid.uuid4().hex[:8]}"
    created = gateway.post(
        f"{API}/problems", json={"platform": "e2ehard", "problem_id": pid, "title": "Up"}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    data = json.dumps({"test_cases": [{"input": f"{i}\n" + "x" * 200_000, "output": f"{i}\n"} for i in range(8)]})

    def chunks(raw: bytes) -> Iterator[bytes]:
        for at in range(0, len(raw), 100_000):
            yield raw[at : at + 100_000]

    path = f"{API}/problems/e2ehard/{pid}/testcases"
    headers = {**admin_headers, "content-type": "application/json"}
    resp = gateway.put(path, content=chunks(data.encode()), headers=headers)
    assert resp.status_code == 200, resp.text
    page = gateway.get(path, params={"limit": 20}, headers=admin_headers).json()
    assert len(page["items"]) == 8
