"""The web app in real Chromium (Debian's package, driven by Playwright) against the running platform.

A new user signs up, searches in Korean, opens a problem, runs code on custom input, submits a
wrong answer and watches the per-test verdicts arrive, asks for a hint, fixes the code, gets
Accepted, finds both runs in the history, sees the usage go down and stays signed in when the
access token has expired (refresh token). An admin creates a problem, uploads test cases, runs a
generation job and watches its progress, completes the problem and reads the statistics.
Every page is checked with axe-core (no serious or critical violations) and photographed at
desktop and phone width under bench/results/web/."""

from __future__ import annotations

import json
import re
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support.polling import eventually

from algoitny_devtools.platform import Platform

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "web" / "dist" / "index.html"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO / "bench" / "results" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium as root in a closed network: no sandbox, and none of its background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
DEMO_ADMIN = ("admin@algoitny.dev", "change-me-admin-1")  # seeded by devstack.prepare (accounts defaults)

SUM_WRONG = "print(0)\n"
SUM_RIGHT = "a, b = map(int, input().split())\nprint(a + b)\n"
CASES = [
    {"input": "1 2\n", "output": "3\n", "is_sample": True},
    {"input": "10 20\n", "output": "30\n", "is_sample": False},
    {"input": "-5 5\n", "output": "0\n", "is_sample": False},
    {"input": "7 8\n", "output": "15\n", "is_sample": False},
]


@pytest.fixture(scope="module")
def hints(platform: Platform) -> Iterator[None]:
    """The hints service (offline fallback: no Gemini key), reading the real executions service."""
    platform.start("hints")
    try:
        platform.wait_ready(["hints"], timeout_s=60)
        yield
    finally:
        platform.kill("hints", signal.SIGTERM)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert DIST.is_file(), "web/dist is not built: run `make web` (make test does)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Checker:
    """axe-core on each page and screenshots at both widths; findings collected for one assert."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page = page
        self.prefix = prefix
        self.violations: dict[str, list[str]] = {}
        self.external: list[str] = []
        SHOTS.mkdir(parents=True, exist_ok=True)

        def note(request: Any) -> None:
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None):
                self.external.append(request.url)

        page.on("request", note)

    def check(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("networkidle")
        expect(page.locator("[role=status].loading")).to_have_count(0)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
            }"""
        )
        if result:
            self.violations[name] = result
        page.screenshot(path=str(SHOTS / f"{self.prefix}-{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        # At phone width nothing may stick out sideways.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 1:
            self.violations.setdefault(name, []).append(f"page is {overflow}px wider than a phone")
        page.screenshot(path=str(SHOTS / f"{self.prefix}-{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    def assert_clean(self) -> None:
        assert not self.violations, json.dumps(self.violations, indent=1)
        assert not self.external, f"requests left the platform: {self.external[:5]}"


def set_code(page: Page, code: str) -> None:
    """Replace the editor's text as a user would paste it."""
    editor = page.get_by_role("textbox", name="Code", exact=True)
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    expect(page.locator(".cm-content")).to_contain_text(code.strip().splitlines()[-1])


def quota_left(page: Page, testid: str) -> int:
    text = page.get_by_test_id(testid).inner_text()
    return int(text)


def make_problem(gateway: httpx.Client, admin: dict[str, str], title: str, tags: list[str]) -> tuple[str, str]:
    platform, pid = "webe2e", f"w{uuid.uuid4().hex[:8]}"
    body = {
        "platform": platform,
        "problem_id": pid,
        "title": title,
        "tags": tags,
        "constraints": "두 정수 a, b (-10^9 ≤ a, b ≤ 10^9)\nPrint a + b.",
        "time_limit_ms": 2000,
        "memory_limit_mb": 256,
        "status": "completed",
        "language": "python3",
        "reference_solution": SUM_RIGHT,
        "test_cases": CASES,
    }
    resp = gateway.post("/api/v1/problems", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return platform, pid


def test_gateway_serves_the_app_client_routes_and_offline_docs(gateway: httpx.Client, browser: Browser) -> None:
    index = gateway.get("/")
    assert index.status_code == 200 and '<div id="root">' in index.text
    # a client route reloaded in the browser gets the app; API paths stay the API's
    assert gateway.get("/problems/x/y").text == index.text
    missing = gateway.get("/api/v1/no-such-route")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert gateway.get("/api/v1/runs").status_code == 405  # exists for POST only
    asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
    assert asset
    script = gateway.get(asset.group(1))  # httpx asks for gzip: the build's gzip copy, unpacked here
    assert "immutable" in script.headers["cache-control"] and script.headers["content-encoding"] == "gzip"
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    plain = gateway.get(asset.group(1), headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == script.content
    assert gateway.get(asset.group(1) + ".gz").text == index.text  # the copies are not files of their own
    assert gateway.get("/../../etc/passwd").text == index.text  # never a file outside the build
    docs = gateway.get("/docs").text
    assert "cdn" not in docs.lower() and "/swagger-ui/swagger-ui-bundle.js" in docs
    # Swagger UI renders with every request answered by the platform itself (no internet)
    page = browser.new_page(viewport=DESKTOP)
    outside: list[str] = []
    page.route(
        re.compile(r"^https?://(?!127\.0\.0\.1|localhost).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page.goto(str(gateway.base_url).rstrip("/") + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("AlgoItny API", timeout=20_000)
    expect(page.locator(".opblock").first).to_be_visible()
    page.close()
    assert not outside, outside


def test_new_user_practises_a_problem_in_the_browser(
    gateway: httpx.Client, admin_headers: dict[str, str], browser: Browser, hints: None
) -> None:
    marker = uuid.uuid4().hex[:6]
    title = f"두 수의 합 {marker}"
    platform, pid = make_problem(gateway, admin_headers, title, ["수학", "implementation"])

    def searchable() -> bool:
        resp = gateway.get("/api/v1/problems/search", params={"q": f"합 {marker}"})
        return resp.status_code == 200 and any(h["problem_id"] == pid for h in resp.json()["items"])

    eventually(searchable, timeout_s=30, interval_s=0.3)

    page = browser.new_page(viewport=DESKTOP, base_url=str(gateway.base_url))
    metered: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: (
            metered.append({"url": r.url, **r.headers})
            if r.method == "POST" and re.search(r"/api/v1/(runs|executions)(/[^/]+/hints)?$", r.url)
            else None
        ),
    )
    ui = Checker(page, "user")

    # sign up (with the consents)
    page.goto("/signup")
    ui.check("signup")
    email = f"web-{marker}@e2e-mail.dev"
    page.get_by_label("Display name").fill(f"웹 사용자 {marker}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery 9")
    page.get_by_label("I accept the terms of service").check()
    page.get_by_label("I accept the privacy policy").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # search in Korean: the highlight marks the matched word
    search = page.get_by_role("searchbox", name="Search problems")
    search.fill(f"합 {marker}")
    search.press("Enter")
    hit = page.get_by_role("link", name=re.compile(pid))
    expect(hit).to_be_visible()
    expect(hit.locator("mark").first).to_be_visible()
    expect(page.get_by_label("Platform")).to_contain_text(platform)  # facet from the answer
    ui.check("search")

    # the problem: statement, limits, samples; the editor with starter code
    hit.click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_text("2000 ms")).to_be_visible()
    expect(page.get_by_role("heading", name="Sample input 1")).to_be_visible()
    page.get_by_label("Programming language").select_option("python3")
    expect(page.locator(".cm-content")).to_contain_text("def main")
    runs_before = quota_left(page, "runs-left")
    hints_before = quota_left(page, "hints-left")
    ui.check("problem")

    # run on custom input
    set_code(page, SUM_RIGHT)
    page.get_by_label("Custom input").fill("40 2\n")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-stdout")).to_have_text("42\n", timeout=30_000)
    expect(page.locator("#h-run")).to_contain_text("Ran successfully")

    # a wrong answer: per-test verdicts arrive while it is judged, then the verdict in words
    page.evaluate(
        """() => {
            window.__seen = [];
            new MutationObserver(() => {
              const h = document.querySelector('.result h3[id^=res-]');
              if (h) window.__seen.push([h.textContent, document.querySelectorAll('[data-testid=test-row]').length]);
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    set_code(page, SUM_WRONG)
    page.get_by_role("button", name="Submit").click()
    verdict = page.locator(".result h3[id^=res-]")
    expect(verdict).to_contain_text("Wrong answer", timeout=60_000)
    expect(page.get_by_test_id("test-row")).to_have_count(len(CASES))
    expect(page.get_by_test_id("test-row").first).to_contain_text("Wrong answer")
    # the owner sees a failed test's input and expected output beside the actual one
    expect(page.get_by_test_id("test-input").first).to_have_text(CASES[0]["input"])
    expect(page.get_by_test_id("test-expected").first).to_have_text(CASES[0]["output"])
    seen = page.evaluate("window.__seen")
    assert any(("Queued" in h or "Running" in h) for h, _ in seen), seen  # shown before the end
    counts = [n for _, n in seen]
    assert counts == sorted(counts) and counts[-1] == len(CASES), seen

    # a hint for the failed submission (charged: one hint less)
    page.get_by_role("button", name="Get a hint").click()
    expect(page.locator(".hint-list li").first).to_be_visible(timeout=60_000)
    ui.check("verdict-and-hint")

    # fixed: Accepted
    set_code(page, SUM_RIGHT)
    page.get_by_role("button", name="Submit").click()
    expect(verdict).to_contain_text("Accepted", timeout=60_000)
    expect(verdict).to_contain_text(f"({len(CASES)}/{len(CASES)})")
    expect(page.get_by_test_id("runs-left")).to_have_text(str(runs_before - 3))
    expect(page.get_by_test_id("hints-left")).to_have_text(str(hints_before - 1))

    # every metered request carried an Idempotency-Key
    assert len(metered) == 4 and all(re.fullmatch(r"web-[0-9a-f-]{36}", m.get("idempotency-key", "")) for m in metered)

    # both submissions in my history, newest first; one opens with its code
    page.get_by_role("link", name="History").click()
    rows = page.get_by_test_id("history-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Accepted")
    expect(rows.nth(1)).to_contain_text("Wrong answer")
    ui.check("history")
    page.get_by_role("tab", name="Feed").click()
    expect(page.get_by_test_id("history-row").first).to_be_visible()
    rows.nth(0).get_by_role("link").first.click()
    expect(page.get_by_role("region", name="Code")).to_contain_text("print(a + b)")
    ui.check("execution")
    page.get_by_role("link", name=f"웹 사용자 {marker}").click()  # the public profile
    expect(page.get_by_role("heading", name=re.compile("^Profile"))).to_be_visible()
    expect(page.locator(".figures")).to_be_visible()
    ui.check("profile")

    # the session outlives its access token: the refresh token renews it
    page.evaluate(
        """() => { const s = JSON.parse(localStorage.getItem('algoitny.session'));
                   s.access_token = 'expired.' + s.access_token;
                   localStorage.setItem('algoitny.session', JSON.stringify(s)); }"""
    )
    page.goto("/me")
    expect(page.get_by_test_id("used-execution")).to_have_text("3")
    expect(page.get_by_test_id("used-hint")).to_have_text("1")
    assert not page.evaluate("JSON.parse(localStorage.getItem('algoitny.session')).access_token.startsWith('expired.')")
    ui.check("my-stats")

    # the hint quota spent: the 429 becomes a sentence with the time it resets
    bearer = {
        "authorization": "Bearer " + page.evaluate("JSON.parse(localStorage.getItem('algoitny.session')).access_token")
    }
    mine = gateway.get("/api/v1/history", params={"scope": "mine"}, headers=bearer).json()["items"]
    wrong = next(e["execution_id"] for e in mine if e["verdict"] == "WA")
    for _ in range(hints_before):
        key = {"idempotency-key": f"spend-{uuid.uuid4().hex}"}
        if gateway.post(f"/api/v1/executions/{wrong}/hints", headers={**bearer, **key}).status_code == 429:
            break
    page.goto(f"/executions/{wrong}")
    page.get_by_role("button", name="Get a hint").click()
    expect(page.get_by_role("alert")).to_contain_text("You have used up your quota for now.")
    expect(page.get_by_role("alert")).to_contain_text("It resets at")
    ui.check("hint-quota-spent")

    # the owner makes the execution public, then private again (the toggle's name says what it does)
    def is_public() -> bool:
        return bool(gateway.get(f"/api/v1/executions/{wrong}", headers=bearer).json()["public"])

    before = is_public()
    first, second = ("Make private", "Make public") if before else ("Make public", "Make private")
    page.get_by_role("button", name=first).click()
    expect(page.get_by_role("button", name=second)).to_be_visible()
    assert is_public() is not before
    page.get_by_role("button", name=second).click()
    expect(page.get_by_role("button", name=first)).to_be_visible()
    assert is_public() is before

    # Korean interface
    page.get_by_role("link", name="My statistics").click()
    page.get_by_label("Interface language").select_option("ko")
    expect(page.get_by_role("heading", name="내 통계")).to_be_visible()
    ui.check("my-stats-ko")
    page.get_by_label("화면 언어").select_option("en")

    # sign out
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    ui.check("signin")
    page.close()
    ui.assert_clean()


def test_admin_creates_completes_and_reads_statistics(gateway: httpx.Client, browser: Browser) -> None:
    page = browser.new_page(viewport=DESKTOP, base_url=str(gateway.base_url))
    ui = Checker(page, "admin")
    page.goto("/signin?next=/admin")
    page.get_by_label("Email").fill(DEMO_ADMIN[0])
    page.get_by_label("Password").fill(DEMO_ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Admin")).to_be_visible()

    pid = f"a{uuid.uuid4().hex[:8]}"
    page.get_by_label("Platform").fill("webadmin")
    page.get_by_label("Problem id").fill(pid)
    page.get_by_label("Title").fill(f"A plus B {pid}")
    page.get_by_label("Tags").fill("math, implementation")
    page.get_by_label("Reference solution").fill(SUM_RIGHT)
    ui.check("problems")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_test_id("problem-status")).to_have_text("draft")

    # upload test cases from a file
    upload = SHOTS / f"cases-{pid}.json"
    upload.write_text(json.dumps(CASES))
    page.get_by_label("Test-case file (JSON)").set_input_files(str(upload))
    # the browser reads the file itself (by path), so it stays until the text arrived
    expect(page.get_by_label(re.compile(r"^Test cases \(JSON"))).to_have_value(re.compile("10 20"))
    upload.unlink()
    page.get_by_role("button", name="Upload test cases").click()
    expect(page.get_by_test_id("case-count")).to_have_text(str(len(CASES)))

    # a generation job, followed live until it succeeds
    page.get_by_label("Count").fill("6")
    page.get_by_role("button", name="Start generation job").click()
    status = page.get_by_test_id("job-status")
    expect(status).to_have_text("succeeded", timeout=90_000)
    expect(page.get_by_role("progressbar")).to_have_attribute("value", re.compile(r"[1-9]"))
    expect(page.get_by_test_id("case-count")).not_to_have_text(str(len(CASES)))
    ui.check("problem-editor")

    page.get_by_role("button", name="Mark complete").click()
    expect(page.get_by_test_id("problem-status")).to_have_text("completed")

    # users: search, then the statistics over a date range
    page.get_by_role("link", name="Users").click()
    page.get_by_role("searchbox", name="Search users").fill("admin@")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name=DEMO_ADMIN[0], exact=True)).to_be_visible()
    ui.check("users")
    page.get_by_role("link", name="Plans").click()
    expect(page.get_by_role("spinbutton", name="Free: Runs / day")).to_have_value(re.compile(r"^-?\d+$"))
    ui.check("plans")
    page.get_by_role("link", name="Generation jobs").click()
    expect(page.get_by_role("link", name=re.compile(pid)).first).to_be_visible()
    ui.check("jobs")
    page.get_by_role("link", name="Platform statistics").click()
    expect(page.get_by_test_id("platform-figures")).to_be_visible()
    expect(page.locator("figure.chart").first).to_be_visible()
    ui.check("stats")
    page.close()
    ui.assert_clean()
