"""Problem import from a page's address, through the gateway: a registrar gives a Codeforces or
Baekjoon URL, a job fetches the page (from a local server playing the site), and a draft with
the page's title, limits, statement and samples appears, ready for generation. Addresses that
cannot be imported are refused up front with the reason; only registrars may import."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
from support.e2e_config import REGISTRAR_PLAN
from support.polling import eventually

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e
API = "/api/v1"


def headers(*, may_register: bool) -> dict[str, str]:
    token, _ = tokens.issue(
        AccountsSettings().signing_keys(),
        user_id=f"imp{uuid.uuid4().hex[:8]}",
        role="user",
        plan=REGISTRAR_PLAN if may_register else "free",
        ttl_s=900,
        may_register=may_register,
    )
    return {"authorization": f"Bearer {token}"}


def finished(gateway: httpx.Client, reg: dict[str, str], location: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = gateway.get(location, headers=reg).json()
        return job if job["status"] in ("succeeded", "failed") else None

    return eventually(probe, timeout_s=30, interval_s=0.2)


def test_a_codeforces_page_becomes_a_draft_with_its_samples(gateway: httpx.Client, registrar_plan: str) -> None:
    reg = headers(may_register=True)
    contest = random.randrange(10_000, 99_999)
    resp = gateway.post(
        f"{API}/problem-imports", json={"url": f"https://codeforces.com/contest/{contest}/problem/A"}, headers=reg
    )
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert (job["platform"], job["problem_id"], job["method"]) == ("codeforces", f"{contest}A", "parser:codeforces")
    done = finished(gateway, reg, resp.headers["location"])
    assert done["status"] == "succeeded", done
    problem = gateway.get(API + done["problem_path"].removeprefix(API), headers=reg).json()
    assert problem["status"] == "draft" and problem["title"] == "Watermelon"
    assert (problem["time_limit_ms"], problem["memory_limit_mb"]) == (1000, 64)
    assert "## Input" in problem["constraints"] and "even" in problem["constraints"]
    cases = gateway.get(f"{API}/problems/codeforces/{contest}A/testcases", headers=reg).json()["items"]
    assert [(c["input"], c["output"], c["is_sample"]) for c in cases] == [
        ("8\n", "YES\n", True),
        ("3\n1 2 3\n", "NO\n", True),
    ]
    # Drafts stay invisible to everyone else; the same problem cannot be imported twice.
    assert gateway.get(f"{API}/problems/codeforces/{contest}A").status_code == 404
    again = gateway.post(
        f"{API}/problem-imports", json={"url": f"https://codeforces.com/problemset/problem/{contest}/A"}, headers=reg
    )
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")


def test_a_korean_baekjoon_page_imports_with_its_title(gateway: httpx.Client, registrar_plan: str) -> None:
    reg = headers(may_register=True)
    number = random.randrange(100_000, 999_999)
    resp = gateway.post(
        f"{API}/problem-imports", json={"url": f"https://www.acmicpc.net/problem/{number}"}, headers=reg
    )
    assert resp.status_code == 202, resp.text
    done = finished(gateway, reg, resp.headers["location"])
    assert done["status"] == "succeeded", done
    problem = gateway.get(f"{API}/problems/baekjoon/{number}", headers=reg).json()
    assert problem["title"] == "A+B 두 수의 합" and problem["time_limit_ms"] == 2000


def test_addresses_that_cannot_be_imported_are_refused_with_the_reason(
    gateway: httpx.Client, registrar_plan: str
) -> None:
    reg = headers(may_register=True)
    for url, reason in [
        ("https://evil.example/problem/1", "cannot be imported"),
        ("http://169.254.169.254/latest/meta-data/", "cannot be imported"),
        ("https://leetcode.com/problems/two-sum/", "cannot be imported"),
    ]:
        resp = gateway.post(f"{API}/problem-imports", json={"url": url}, headers=reg)
        assert resp.status_code == 422, resp.text
        body = resp.json()
        assert body["reason"] == "import_refused" and reason in body["detail"]
    # A page the site does not have: accepted, then failed with the site's answer.
    resp = gateway.post(f"{API}/problem-imports", json={"url": "https://www.acmicpc.net/problem/4040404"}, headers=reg)
    assert resp.status_code == 202, resp.text
    failed = finished(gateway, reg, resp.headers["location"])
    assert failed["status"] == "failed" and failed["error"] == "the page answered HTTP 404"
    assert gateway.get(f"{API}/problems/baekjoon/4040404", headers=reg).status_code == 404
    assert gateway.post(f"{API}/problem-imports", json={"url": "not a url"}, headers=reg).status_code == 422
    user = headers(may_register=False)
    forbidden = gateway.post(
        f"{API}/problem-imports", json={"url": "https://codeforces.com/contest/4/problem/A"}, headers=user
    )
    assert forbidden.status_code == 403
    assert gateway.get(f"{API}/problem-imports/imp_{'x' * 22}", headers=reg).status_code == 404
