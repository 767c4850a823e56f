"""Problem import from a page's address: page readers, the fetcher's limits, the use case."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from algoitny_problems.adapters.page_fetcher import PageFetcher
from algoitny_problems.adapters.page_html import parse_html
from algoitny_problems.adapters.page_parsers import read_atcoder, read_baekjoon, read_codeforces
from algoitny_problems.domain.imports import ExtractedProblem, ExtractedSample, ImportJob, ImportRefused
from algoitny_problems.service_layer.imports import ImportService
from algoitny_shared.errors import AppError
from algoitny_shared.identity import Identity
from algoitny_shared.uow import TransactionConflict

PAGES = Path(__file__).parent.parent / "pages"


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ readers


def test_codeforces_page_gives_title_limits_texts_and_both_sample_markups() -> None:
    got = read_codeforces(page("codeforces_4A.html"))
    assert got.title == "Watermelon"
    assert (got.time_limit_ms, got.memory_limit_mb) == (1000, 64)
    assert got.statement and "even" in got.statement and "not this" not in got.statement
    assert got.input_spec and got.input_spec.startswith("The only line") and "Input" not in got.input_spec[:6]
    assert got.output_spec and "YES" in got.output_spec
    assert [(s.input.strip(), s.output.strip()) for s in got.samples] == [("8", "YES"), ("3\n1 2 3", "NO")]


def test_baekjoon_page_reads_korean_headings_and_numbered_samples() -> None:
    got = read_baekjoon(page("baekjoon_1000.html"))
    assert got.title == "A+B 두 수의 합"
    assert (got.time_limit_ms, got.memory_limit_mb) == (2000, 128)
    assert got.statement == "두 정수 A와 B를 입력받은 다음, A+B를 출력하는 프로그램을 작성하시오."
    assert got.input_spec and "(0 < A, B < 10)" in got.input_spec
    assert [(s.input, s.output) for s in got.samples] == [("1 2\n", "3\n"), ("4 5", "9")]


def test_atcoder_page_prefers_the_english_statement() -> None:
    got = read_atcoder(page("atcoder_abc086_a.html"))
    assert got.title == "Product"
    assert (got.time_limit_ms, got.memory_limit_mb) == (2000, 256)
    assert got.statement and got.statement.startswith("AtCoDeer") and "二つ" not in got.statement
    assert got.constraints and "1 ≤ a,b ≤ 10000" in got.constraints
    assert [(s.input, s.output) for s in got.samples] == [("3 4\n", "Even\n"), ("1 21\n", "Odd\n")]


@pytest.mark.parametrize("reader", [read_codeforces, read_baekjoon, read_atcoder])
def test_a_page_that_is_not_a_problem_is_refused_with_a_reason(reader: Any) -> None:
    with pytest.raises(ImportRefused, match=r"no (problem|task)"):
        reader("<html><body><form id='login'>Sign in</form></body></html>")


def test_hostile_markup_neither_crashes_nor_recurses() -> None:
    deep = "<div>" * 20_000 + "x" + "</div>" * 10
    assert parse_html(deep).text() == "x"
    assert parse_html("<p>a</b></i><pre>b<script>evil()</p>").text().startswith("a")


def test_extracted_problem_becomes_a_draft_with_samples_and_limits_in_range() -> None:
    extracted = ExtractedProblem(
        title=" A+B ",
        time_limit_ms=50_000,
        memory_limit_mb=4,
        statement="Add.",
        samples=[ExtractedSample(input="1 2  \n\n", output="3")],
    )
    draft = extracted.to_new_problem("baekjoon", "1000", "https://www.acmicpc.net/problem/1000")
    assert draft.status == "draft" and draft.title == "A+B"
    assert (draft.time_limit_ms, draft.memory_limit_mb) == (15_000, 16)
    assert [(c.input, c.output, c.is_sample) for c in draft.test_cases] == [("1 2\n", "3\n", True)]
    assert draft.constraints == "## Statement\nAdd."
    with pytest.raises(ImportRefused, match="no sample"):
        ExtractedProblem(title="x").to_new_problem("baekjoon", "1", "https://www.acmicpc.net/problem/1")


# ------------------------------------------------------------------ fetcher


def fetcher(handler: Any, **kw: Any) -> PageFetcher:
    return PageFetcher(
        {"codeforces.com", "acmicpc.net"},
        origin_overrides={"codeforces.com": "http://pages.test", "acmicpc.net": "http://pages.test"},
        transport=httpx.MockTransport(handler),
        **kw,
    )


async def test_fetcher_follows_redirects_only_to_allowed_hosts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/problem/1":
            return httpx.Response(302, headers={"location": "https://www.acmicpc.net/problem/2"})
        if request.url.path == "/problem/2":
            return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"})
        return httpx.Response(200, text="<p>ok</p>", headers={"content-type": "text/html; charset=utf-8"})

    f = fetcher(handler)
    assert (await f.fetch("https://codeforces.com/problemset/problem/1/A")).text == "<p>ok</p>"
    with pytest.raises(ImportRefused, match=r"169\.254\.169\.254 cannot be imported"):
        await f.fetch("https://www.acmicpc.net/problem/1")


async def test_fetcher_cuts_big_pages_slow_pages_errors_and_non_pages() -> None:
    def big(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 70_000, headers={"content-type": "text/html"})

    with pytest.raises(ImportRefused, match="larger than 64 KB"):
        await fetcher(big, max_bytes=64 * 1024).fetch("https://codeforces.com/problemset/problem/1/A")

    async def slow(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    started = time.monotonic()
    with pytest.raises(ImportRefused, match=r"did not load within 0\.2 s"):
        await fetcher(slow, timeout_s=0.2).fetch("https://codeforces.com/problemset/problem/1/A")
    assert time.monotonic() - started < 2

    with pytest.raises(ImportRefused, match="HTTP 404"):
        await fetcher(lambda _: httpx.Response(404)).fetch("https://codeforces.com/problemset/problem/1/A")
    with pytest.raises(ImportRefused, match="not a web page"):
        pdf = httpx.Response(200, content=b"%PDF", headers={"content-type": "application/pdf"})
        await fetcher(lambda _: pdf).fetch("https://codeforces.com/problemset/problem/1/A")


async def test_fetcher_refuses_other_hosts_schemes_credentials_and_private_addresses() -> None:
    f = PageFetcher({"codeforces.com", "localhost"})
    for url, reason in [
        ("https://evil.example/problem/1", "cannot be imported"),
        ("file:///etc/passwd", "only http and https"),
        ("https://user:pw@codeforces.com/problemset/problem/1/A", "user name or password"),
        ("http://localhost:9200/_cat/indices", "not public"),
    ]:
        with pytest.raises(ImportRefused, match=reason):
            await f.fetch(url)


# ------------------------------------------------------------------ use case


class FakeJobs:
    def __init__(self) -> None:
        self.items: dict[str, ImportJob] = {}

    async def get(self, job_id: str) -> ImportJob | None:
        return self.items.get(job_id)

    async def save(self, job: ImportJob, *, expected_version: int | None) -> ImportJob:
        current = self.items.get(job.id)
        if (current.version if current else None) != expected_version:
            raise TransactionConflict(["ConditionalCheckFailed"])
        saved = job.model_copy(update={"version": (expected_version or 0) + 1})
        self.items[job.id] = saved
        return saved


class FakeProblems:
    def __init__(self) -> None:
        self.created: list[Any] = []

    async def exists(self, platform: str, problem_id: str) -> bool:
        return any(c.platform == platform and c.problem_id == problem_id for c, _ in self.created)

    async def create(self, cmd: Any, actor: str | None, trace_id: str | None = None, quota: Any = None) -> None:
        self.created.append((cmd, quota))


REGISTRAR = Identity(user_id="u_reg", role="user", plan="pro", may_register=True)


def service(handler: Any, *, llm: Any = None) -> tuple[ImportService, FakeJobs, FakeProblems]:
    jobs, problems = FakeJobs(), FakeProblems()

    async def cap(identity: Identity) -> tuple[str, int] | None:
        return (identity.user_id or "", 10)

    svc = ImportService(
        jobs,  # type: ignore[arg-type]
        fetcher(handler),
        problems,  # type: ignore[arg-type]
        hosts={"codeforces.com": "codeforces", "acmicpc.net": "baekjoon"},
        readers={"codeforces": read_codeforces},
        llm=llm,
        plan_cap=cap,
        max_active_per_user=1,
    )
    return svc, jobs, problems


def serve(name: str) -> Any:
    return lambda _: httpx.Response(200, text=page(name), headers={"content-type": "text/html"})


async def test_an_import_creates_a_draft_with_samples_counted_against_the_plan() -> None:
    svc, _jobs, problems = service(serve("codeforces_4A.html"))
    view = await svc.start("https://codeforces.com/contest/4/problem/A", REGISTRAR)
    assert view.status == "pending" and (view.platform, view.problem_id) == ("codeforces", "4A")
    await svc.wait_idle()
    done = await svc.get(view.id, REGISTRAR)
    assert done.status == "succeeded" and done.problem_path == "/api/v1/problems/codeforces/4A"
    ((cmd, quota),) = problems.created
    assert cmd.status == "draft" and cmd.title == "Watermelon" and len(cmd.test_cases) == 2 and quota == ("u_reg", 10)
    with pytest.raises(AppError) as exists:
        await svc.start("https://codeforces.com/problemset/problem/4/A", REGISTRAR)
    assert exists.value.code.name == "ALREADY_EXISTS"


async def test_a_failed_import_says_why_and_others_cannot_see_it() -> None:
    svc, _, problems = service(
        lambda _: httpx.Response(200, text="<p>login</p>", headers={"content-type": "text/html"})
    )
    view = await svc.start("https://codeforces.com/contest/4/problem/B", REGISTRAR)
    await svc.wait_idle()
    failed = await svc.get(view.id, REGISTRAR)
    assert failed.status == "failed" and failed.error and "no problem statement" in failed.error
    assert problems.created == []
    with pytest.raises(AppError) as hidden:
        await svc.get(view.id, Identity(user_id="u_other", role="user", may_register=True))
    assert hidden.value.code.name == "NOT_FOUND"


async def test_offline_sites_without_a_parser_and_non_registrars_are_refused_up_front() -> None:
    svc, jobs, _ = service(serve("baekjoon_1000.html"))
    with pytest.raises(AppError) as offline:
        await svc.start("https://www.acmicpc.net/problem/1000", REGISTRAR)
    assert offline.value.code.name == "VALIDATION_FAILED" and "offline" in offline.value.detail
    with pytest.raises(AppError) as forbidden:
        await svc.start("https://codeforces.com/contest/4/problem/A", Identity(user_id="u1", role="user"))
    assert forbidden.value.code.name == "FORBIDDEN"
    assert jobs.items == {}


async def test_the_llm_reads_other_sites_when_configured() -> None:
    class Llm:
        enabled = True

        async def read(self, markup: str) -> ExtractedProblem:
            assert "두 정수" in markup
            return ExtractedProblem(title="A+B", samples=[ExtractedSample(input="1 2", output="3")])

    svc, _, problems = service(serve("baekjoon_1000.html"), llm=Llm())
    view = await svc.start("https://www.acmicpc.net/problem/1000", REGISTRAR)
    assert view.method == "llm"
    await svc.wait_idle()
    assert (await svc.get(view.id, REGISTRAR)).status == "succeeded"
    assert problems.created[0][0].platform == "baekjoon"


async def test_unfinished_imports_per_registrar_are_capped() -> None:
    gate = asyncio.Event()

    async def held(_: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200, text=page("codeforces_4A.html"), headers={"content-type": "text/html"})

    svc, _, _ = service(held)
    await svc.start("https://codeforces.com/contest/4/problem/A", REGISTRAR)
    with pytest.raises(AppError) as capped:
        await svc.start("https://codeforces.com/contest/5/problem/A", REGISTRAR)
    assert capped.value.code.name == "RATE_LIMITED" and capped.value.headers["Retry-After"] == "5"
    gate.set()
    await svc.wait_idle()
