"""What executions needs from other services, over their HTTP APIs (never their tables).

* :class:`ProblemSource` - a problem's status, title, limits and checker
  (``GET /problems/{platform}/{problem_id}`` of the problems service, as the caller).
* :class:`TestSetSource` - a problem's test set. :class:`HttpTestSetSource` pages through
  ``GET /problems/{platform}/{problem_id}/testcases``; :class:`SampleTestSetSource` uses the
  samples of the detail route; :class:`FallbackTestSetSource` tries the first and falls back
  to the second while the problems service has no test-case route (it answers 404 for the
  route itself). :class:`CachedTestSetSource` keeps loaded sets by (problem, incarnation,
  version): a version never changes within one incarnation of a problem, but a problem
  deleted and registered again under the same id starts its versions again.
* :class:`ProfileSource` - the caller's display name (accounts ``GET /me``, as the caller),
  cached briefly; None when accounts does not answer (the run is not held up for a name).

Every call carries an identity assertion signed with the internal secret, like the gateway's.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Protocol

import httpx

from algoitny_executions.domain.judging import TestCase, TestSet
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.judge_programs import JudgeProgram

log = logging.getLogger(__name__)

# The judge workers read test sets with a service identity of their own.
SERVICE_IDENTITY = Identity(user_id="service:executions", role="admin")
PAGE_SIZE = 500
MAX_TEST_CASES = 5000


class ProblemGone(Exception):
    """The problem (or its test set) no longer exists."""


class UpstreamError(Exception):
    """The other service could not be reached or erred; the job is retried."""


class _Signed:
    def __init__(self, client: httpx.AsyncClient, signer: IdentitySigner, name: str) -> None:
        self._client = client
        self._signer = signer
        self._name = name

    async def get(self, identity: Identity, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        headers = {IDENTITY_HEADER: self._signer.sign(identity, "GET", path)}
        try:
            return await self._client.get(path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the {self._name} service is unavailable: {type(exc).__name__}") from exc


class ProblemSource:
    def __init__(self, client: httpx.AsyncClient, signer: IdentitySigner) -> None:
        self._http = _Signed(client, signer, "problems")

    async def get(self, identity: Identity, platform: str, problem_id: str) -> dict[str, Any]:
        """The problem as ``identity`` may see it; 404 for unknown (and, to non-admins, draft) ones."""
        try:
            resp = await self._http.get(identity, f"/problems/{platform}/{problem_id}")
        except UpstreamError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, str(exc)) from exc
        if resp.status_code == 404:
            raise AppError(ErrorCode.NOT_FOUND, f"Problem {platform}/{problem_id} does not exist")
        if resp.status_code >= 400:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, f"The problems service answered {resp.status_code}")
        body: dict[str, Any] = resp.json()
        return body


class TestSetSource(Protocol):
    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        """The problem's current test set (normally ``version``) with its checker/interactor programs
        (``programs``: their version at submission); ProblemGone when the problem, or the incarnation
        the job was submitted against, no longer exists."""
        ...


def _check_incarnation(platform: str, problem_id: str, wanted: str | None, body: dict[str, Any]) -> str:
    found = str(body.get("incarnation") or "")
    if wanted and found and found != wanted:
        # Deleted and registered again since the submission: its problem is gone.
        raise ProblemGone(f"{platform}/{problem_id} (incarnation {wanted})")
    return found


def _route_missing(resp: httpx.Response) -> bool:
    """A 404 for the route itself (no such endpoint) rather than for the problem."""
    try:
        detail = str(resp.json().get("detail", ""))
    except ValueError:
        return True
    return detail.startswith("No route for")


class RouteMissing(Exception):
    pass


class HttpTestSetSource:
    __test__ = False

    def __init__(self, client: httpx.AsyncClient, signer: IdentitySigner) -> None:
        self._http = _Signed(client, signer, "problems")

    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        path = f"/problems/{platform}/{problem_id}/testcases"
        cases: list[TestCase] = []
        cursor: str | None = None
        got_version = version
        got_incarnation = ""
        checker_program: JudgeProgram | None = None
        interactor: JudgeProgram | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            resp = await self._http.get(SERVICE_IDENTITY, path, params)
            if resp.status_code == 404:
                if _route_missing(resp):
                    raise RouteMissing(path)
                raise ProblemGone(f"{platform}/{problem_id}")
            if resp.status_code == 409 and cursor:  # the set changed while paging: start again
                cases, cursor = [], None
                continue
            if resp.status_code >= 400:
                raise UpstreamError(f"the problems service answered {resp.status_code}")
            body = resp.json()
            got_version = int(body.get("test_set_version", version))
            got_incarnation = _check_incarnation(platform, problem_id, incarnation, body)
            if body.get("checker_program"):
                checker_program = JudgeProgram.model_validate(body["checker_program"])
            if body.get("interactor"):
                interactor = JudgeProgram.model_validate(body["interactor"])
            for item in body.get("items", []):
                cases.append(TestCase(input=str(item["input"]).encode(), output=str(item["output"]).encode()))
            cursor = body.get("next_cursor")
            if not cursor or len(cases) >= MAX_TEST_CASES:
                break
        return TestSet(
            problem_key=f"{platform}/{problem_id}",
            version=got_version,
            incarnation=got_incarnation,
            cases=tuple(cases),
            checker_program=checker_program,
            interactor=interactor,
        )


class SampleTestSetSource:
    """The problem's samples as its test set (until the problems service serves test sets)."""

    __test__ = False

    def __init__(self, client: httpx.AsyncClient, signer: IdentitySigner) -> None:
        self._http = _Signed(client, signer, "problems")

    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        resp = await self._http.get(SERVICE_IDENTITY, f"/problems/{platform}/{problem_id}")
        if resp.status_code == 404:
            raise ProblemGone(f"{platform}/{problem_id}")
        if resp.status_code >= 400:
            raise UpstreamError(f"the problems service answered {resp.status_code}")
        body = resp.json()
        got_incarnation = _check_incarnation(platform, problem_id, incarnation, body)
        samples = body.get("samples") or body.get("test_cases") or []
        cases = tuple(TestCase(input=str(s["input"]).encode(), output=str(s["output"]).encode()) for s in samples)
        return TestSet(
            problem_key=f"samples:{platform}/{problem_id}",
            version=int(body.get("test_set_version", version)),
            incarnation=got_incarnation,
            cases=cases,
        )


class FallbackTestSetSource:
    __test__ = False

    def __init__(self, primary: HttpTestSetSource, fallback: SampleTestSetSource) -> None:
        self._primary = primary
        self._fallback = fallback

    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        try:
            return await self._primary.load(platform, problem_id, version, incarnation, programs)
        except RouteMissing:
            return await self._fallback.load(platform, problem_id, version, incarnation, programs)


class CachedTestSetSource:
    """Test sets by (problem, incarnation, version, programs), most recently used kept: a version is
    immutable within one incarnation (the checker/interactor programs are not part of the version,
    so their version at submission is part of the key). A job without an incarnation (an older producer) is
    never answered from the cache: its version alone could name a deleted problem's set."""

    __test__ = False

    def __init__(self, inner: TestSetSource, max_entries: int = 32) -> None:
        self._inner = inner
        self._max = max_entries
        self._sets: OrderedDict[tuple[str, str, str, int, str], TestSet] = OrderedDict()
        self.loads = 0

    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        key = (platform, problem_id, incarnation or "", version, programs or "")
        found = self._sets.get(key) if incarnation else None
        if found is not None:
            self._sets.move_to_end(key)
            return found
        self.loads += 1
        test_set = await self._inner.load(platform, problem_id, version, incarnation, programs)
        if (
            incarnation
            and test_set.version == version
            and test_set.incarnation == incarnation
            and test_set.programs_version == programs
        ):
            self._sets[key] = test_set
            while len(self._sets) > self._max:
                self._sets.popitem(last=False)
        return test_set


class ProfileSource:
    def __init__(self, client: httpx.AsyncClient, signer: IdentitySigner, ttl_s: float = 300.0) -> None:
        self._http = _Signed(client, signer, "accounts")
        self._ttl = ttl_s
        self._cache: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    async def display_name(self, identity: Identity) -> str | None:
        if not identity.user_id or identity.user_id.startswith("service:"):
            return None
        cached = self._cache.get(identity.user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            resp = await self._http.get(identity, "/me")
        except UpstreamError:
            return None
        if resp.status_code != 200:
            return None
        body = resp.json()
        name = (body.get("name") or body.get("email") or None) if isinstance(body, dict) else None
        name = str(name)[:100] if name else None
        self._cache[identity.user_id] = (time.monotonic() + self._ttl, name)
        while len(self._cache) > 10_000:
            self._cache.popitem(last=False)
        return name
