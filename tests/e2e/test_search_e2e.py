"""Search through the gateway: filters, visibility, highlights, facets, paging, bad input,
metrics, and `reindex` (topic replay and the problems-service fallback) while searches run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from typing import Any

import httpx
import pytest
from support.polling import eventually, metric_value

from algoitny_devtools.platform import REPO, Platform

pytestmark = pytest.mark.e2e
API = "/api/v1/problems"


def _expect(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == code


def _search(gateway: httpx.Client, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    resp = gateway.get(f"{API}/search", params=params, headers=headers or {})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


@pytest.fixture(scope="module")
def catalogue(gateway: httpx.Client, admin_headers: dict[str, str]) -> str:
    platform = f"s{uuid.uuid4().hex[:6]}"
    cases = {"test_cases": [{"input": "1\n", "output": "1\n", "is_sample": True}]}
    problems = [
        ("1001", "Quokka Zebra Paths", ["graphs", "dp"], "completed", "python"),
        ("1002", "쿼카 얼룩말 경로", ["graphs"], "completed", "cpp"),
        ("1003", "Quokka Zebra Draft", ["dp"], "draft", "python"),
        ("1004", "Quokka counting", ["math"], "completed", "java"),
    ]
    for pid, title, tags, status, language in problems:
        body = {"platform": platform, "problem_id": pid, "title": title, "tags": tags, "status": status}
        resp = gateway.post(API, json={**body, "language": language, **cases}, headers=admin_headers)
        assert resp.status_code == 201, resp.text
    eventually(
        lambda: len(_search(gateway, admin_headers, q="quokka", platform=platform)["items"]) == 3,
        timeout_s=20,
    )
    return platform


def test_filters_visibility_highlights_and_facets(
    gateway: httpx.Client, admin_headers: dict[str, str], catalogue: str
) -> None:
    anon = _search(gateway, q="quokka zebra", platform=catalogue)
    assert [h["problem_id"] for h in anon["items"]] == ["1001", "1004"]  # both words first; no draft
    assert anon["items"][0]["highlight"] == "<em>Quokka</em> <em>Zebra</em> Paths"
    admin = _search(gateway, admin_headers, q="quokka zebra", platform=catalogue)
    assert {h["problem_id"] for h in admin["items"][:2]} == {"1001", "1003"}
    drafts = _search(gateway, admin_headers, q="quokka", platform=catalogue, status="draft")
    assert [h["problem_id"] for h in drafts["items"]] == ["1003"]
    _expect(gateway.get(f"{API}/search", params={"q": "quokka", "status": "draft"}), 403, "FORBIDDEN")

    assert _search(gateway, q="얼룩말", platform=catalogue)["items"][0]["problem_id"] == "1002"
    assert _search(gateway, q="1002", platform=catalogue)["items"][0]["problem_id"] == "1002"
    tagged = _search(gateway, q="quokka", platform=catalogue, tags="dp")
    assert [h["problem_id"] for h in tagged["items"]] == ["1001"]
    by_language = _search(gateway, q="quokka", platform=catalogue, language="java")
    assert [h["problem_id"] for h in by_language["items"]] == ["1004"]

    facets = _search(gateway, q="quokka", platform=catalogue)["facets"]
    assert facets["platform"] == [{"value": catalogue, "count": 2}]
    assert {f["value"]: f["count"] for f in facets["tags"]} == {"graphs": 1, "dp": 1, "math": 1}


def test_cursor_paging_and_bad_input(gateway: httpx.Client, catalogue: str) -> None:
    first = _search(gateway, q="quokka", platform=catalogue, limit=1)
    assert first["total"] == 2 and first["next_cursor"]
    second = _search(gateway, q="quokka", platform=catalogue, limit=1, cursor=first["next_cursor"])
    assert {first["items"][0]["problem_id"], second["items"][0]["problem_id"]} == {"1001", "1004"}
    tampered = first["next_cursor"][:-3] + ("AAA" if not first["next_cursor"].endswith("AAA") else "BBB")
    _expect(gateway.get(f"{API}/search", params={"q": "quokka", "cursor": tampered}), 400, "INVALID_CURSOR")
    other = {"q": "zebra", "platform": catalogue, "cursor": first["next_cursor"]}
    _expect(gateway.get(f"{API}/search", params=other), 400, "INVALID_CURSOR")
    _expect(gateway.get(f"{API}/search", params={"q": "x", "colour": "red"}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/search", params={"q": "x", "language": "cobol"}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/search", params={"q": "   "}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/search", params={"q": "x" * 201}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/search", params={"q": "x", "limit": 0}), 422, "VALIDATION_FAILED")
    for hostile in ['title:"x" OR *', "a AND (b", "/.*/", "\\", '{"query": {"match_all": {}}}', "quokka~ ^9"]:
        assert _search(gateway, q=hostile, platform=catalogue)["items"] == [] or hostile.startswith("quokka")


def test_metrics_export_consumer_lag_and_index_freshness(platform: Platform, catalogue: str) -> None:
    def scrape() -> str | None:
        text = httpx.get(f"{platform.url('search-indexer')}/metrics").text
        return text if "algoitny_consumer_lag_messages{" in text else None

    text = eventually(scrape, timeout_s=30, interval_s=0.5)
    lag = metric_value(text, "algoitny_consumer_lag_messages", consumer="search-indexer", partition="0")
    assert lag >= 0
    assert "algoitny_search_last_indexed_event_timestamp_seconds" in text
    assert "algoitny_search_index_delay_seconds" in text


def _reindex(platform: Platform, source: str) -> dict[str, Any]:
    env = {
        **os.environ,
        **platform.env,
        "ALGOITNY_NAMESPACE": platform.namespace,
        "ALGOITNY_PROBLEMS_URL": platform.url("problems"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "algoitny_search_indexer", "reindex", "--source", source, "--grace-s", "1"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("source", ["problems-service", "topic"])
def test_reindex_while_searching(gateway: httpx.Client, platform: Platform, catalogue: str, source: str) -> None:
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(base_url=platform.url("gateway"), timeout=10) as client:
            while not stop.is_set():
                resp = client.get(f"{API}/search", params={"q": "quokka zebra", "platform": catalogue})
                ids = [h["problem_id"] for h in resp.json().get("items", [])] if resp.status_code == 200 else []
                if ids[:1] != ["1001"] or "1003" in ids:
                    failures.append(f"{resp.status_code} {resp.text[:200]}")
                answered[0] += 1

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        report = _reindex(platform, source)
    finally:
        stop.set()
        thread.join()
    assert failures == [] and answered[0] > 0
    assert report["source"] == source and report["documents"] >= 4 and report["old_indices"]
    assert _search(gateway, q="얼룩말", platform=catalogue)["items"][0]["problem_id"] == "1002"


def test_platform_prefixed_queries_urls_and_suggestions(gateway: httpx.Client, admin_headers: dict[str, str]) -> None:
    """Issue 20 through the gateway: `boj <id>`, a pasted Baekjoon URL, and the suggest endpoint
    (documented in the gateway's OpenAPI document) for a search box."""
    pid = str(7_000_000 + uuid.uuid4().int % 1_000_000)  # a Baekjoon id no other test uses
    word = f"Quokkaboard{uuid.uuid4().hex[:6]}"
    body = {
        "platform": "baekjoon",
        "problem_id": pid,
        "title": f"{word} 카드2",
        "tags": ["queue"],
        "status": "completed",
    }
    resp = gateway.post(API, json={**body, "test_cases": [{"input": "1\n", "output": "1\n"}]}, headers=admin_headers)
    assert resp.status_code == 201, resp.text
    eventually(lambda: [h["problem_id"] for h in _search(gateway, q=f"boj {pid}")["items"]][:1] == [pid], timeout_s=20)
    for q in (f"BOJ{pid}", f"백준 {pid}", f"https://www.acmicpc.net/problem/{pid}", f"{word} 카드 2"):
        first = _search(gateway, q=q)["items"][0]
        assert (first["platform"], first["problem_id"]) == ("baekjoon", pid), q

    def suggest(**params: Any) -> dict[str, Any]:
        resp = gateway.get(f"{API}/suggest", params=params)
        assert resp.status_code == 200, resp.text
        answer: dict[str, Any] = resp.json()
        return answer

    by_id = suggest(q=f"boj {pid[:-1]}", limit=5)
    assert by_id["query"] == f"boj {pid[:-1]}" and by_id["platform"] == "baekjoon"
    assert by_id["items"][0] == {
        "platform": "baekjoon",
        "problem_id": pid,
        "title": f"{word} 카드2",
        "url": None,
        "difficulty": None,
        "highlight": f"{word} 카드2",
    }
    by_title = suggest(q=word[:-3].lower())
    assert by_title["platform"] is None and by_title["items"][0]["problem_id"] == pid
    assert by_title["items"][0]["highlight"] == f"<em>{word}</em> 카드2"
    assert suggest(q=word, platform="codeforces")["items"] == []
    for odd in ("r\U00015b51\u00e0[\U000fdfc8Q\x05", "http://[::1/problem/1", "cf [", "!!!"):  # fuzzing found "["
        assert gateway.get(f"{API}/search", params={"q": odd}).status_code == 200, odd
        assert gateway.get(f"{API}/suggest", params={"q": odd}).status_code == 200, odd
    _expect(gateway.get(f"{API}/suggest", params={"q": "   "}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/suggest", params={"q": "x" * 101}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/suggest", params={"q": "x", "limit": 21}), 422, "VALIDATION_FAILED")
    _expect(gateway.get(f"{API}/suggest", params={"q": "x", "cursor": "c"}), 422, "VALIDATION_FAILED")

    doc = gateway.get("/openapi.json").json()
    get = doc["paths"][f"{API}/suggest"]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"q", "platform", "limit"}
    assert "SuggestPage" in doc["components"]["schemas"] and "Suggestion" in doc["components"]["schemas"]
