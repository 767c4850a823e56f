"""The new platform as verify and status see it: each importing service's internal legacy API
(signed admin identity, like services/search-indexer's CLI), the stats, ratelimit and
executions APIs (signed as the migrated user), and search through the gateway."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.legacy.api import (
    LEGACY_DIGESTS_PATH,
    LEGACY_PAUSE_PATH,
    LEGACY_QUARANTINE_PATH,
    LEGACY_RESUME_PATH,
    LEGACY_ROWS_PATH,
    LEGACY_STATUS_PATH,
    LegacyDigestPage,
    LegacyImportStatus,
    LegacyRowsAnswer,
    QuarantinePage,
)

OPERATOR = Identity(user_id="migration-operator", role="admin")


class ServiceUnavailable(Exception):
    pass


class PlatformApi:
    def __init__(
        self,
        urls: dict[str, str],
        gateway_url: str,
        signer: IdentitySigner,
        timeout_s: float = 30.0,
        *,
        legacy_urls: dict[str, str] | None = None,
    ) -> None:
        self.urls = {k: v.rstrip("/") for k, v in urls.items()}
        self.legacy_urls = {k: v.rstrip("/") for k, v in (legacy_urls or urls).items()}
        self.gateway_url = gateway_url.rstrip("/")
        self.signer = signer
        self.gateway_token = ""  # the gateway's operator token (shadow's admin reads)
        # Idle connections are dropped before the services' keep-alive timeout (uvicorn: 5 s) closes
        # them: at equal timeouts a request can go out on a connection being closed (ReadError).
        self._http = httpx.AsyncClient(timeout=timeout_s, limits=httpx.Limits(keepalive_expiry=2.0))

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, service: str, path: str, identity: Identity = OPERATOR, params: dict[str, Any] | None = None
    ) -> Any:
        base = (self.legacy_urls if path.startswith("/internal/legacy") else self.urls)[service]
        url = base + path
        headers = {IDENTITY_HEADER: self.signer.sign(identity, method, urlsplit(url).path)}
        try:
            resp = await self._http.request(method, url, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} at {base}: {exc!r}") from exc
        if resp.status_code == 404 and path.startswith("/internal/legacy"):
            raise ServiceUnavailable(f"{service} has no legacy importer API ({path}: 404)")
        if resp.status_code >= 400:
            raise ServiceUnavailable(f"{service} {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    async def fetch(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET as the operator; None for a 404 (what the reverse writer reads, issue 16)."""
        url = self.urls[service] + path
        headers = {IDENTITY_HEADER: self.signer.sign(OPERATOR, "GET", urlsplit(url).path)}
        try:
            resp = await self._http.get(url, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} at {self.urls[service]}: {exc!r}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise ServiceUnavailable(f"{service} GET {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    # ---- importers' internal API
    async def import_status(self, service: str) -> LegacyImportStatus:
        return LegacyImportStatus.model_validate(await self._call("GET", service, LEGACY_STATUS_PATH))

    async def digests(self, service: str, table: str, after: str | None, limit: int = 1000) -> LegacyDigestPage:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        path = LEGACY_DIGESTS_PATH.format(table=table)
        return LegacyDigestPage.model_validate(await self._call("GET", service, path, params=params))

    async def rows(self, service: str, table: str, keys: list[str]) -> LegacyRowsAnswer:
        path = LEGACY_ROWS_PATH.format(table=table)
        return LegacyRowsAnswer.model_validate(await self._call("GET", service, path, params={"keys": ",".join(keys)}))

    async def quarantine(self, service: str, after: str | None, limit: int = 1000) -> QuarantinePage:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        return QuarantinePage.model_validate(await self._call("GET", service, LEGACY_QUARANTINE_PATH, params=params))

    async def pause(self, service: str) -> Any:
        return await self._call("POST", service, LEGACY_PAUSE_PATH)

    async def resume(self, service: str) -> Any:
        return await self._call("POST", service, LEGACY_RESUME_PATH)

    # ---- published APIs, as the migrated user
    async def my_stats(self, user_id: str) -> dict[str, Any]:
        return await self._call("GET", "stats", "/me/stats", Identity(user_id=user_id, role="user"))

    async def my_usage(self, user_id: str) -> dict[str, Any]:
        return await self._call("GET", "ratelimit", "/me/usage", Identity(user_id=user_id, role="user"))

    async def my_history(self, user_id: str, limit: int = 20) -> dict[str, Any]:
        return await self._call(
            "GET", "executions", "/history", Identity(user_id=user_id, role="user"), {"scope": "mine", "limit": limit}
        )

    async def history_as(self, user_id: str, scope: str, limit: int = 20) -> dict[str, Any]:
        return await self._call(
            "GET", "executions", "/history", Identity(user_id=user_id, role="user"), {"scope": scope, "limit": limit}
        )

    async def gateway_admin_get(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET through the gateway with the operator token (None for a 404)."""
        headers = {"authorization": f"Bearer {self.gateway_token}"} if self.gateway_token else {}
        try:
            resp = await self._http.get(f"{self.gateway_url}{path}", params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"gateway at {self.gateway_url}: {exc!r}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise ServiceUnavailable(f"gateway GET {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()

    async def search(self, q: str, limit: int = 50) -> dict[str, Any]:
        """Anonymous search through the gateway, as a visitor would."""
        try:
            resp = await self._http.get(f"{self.gateway_url}/api/v1/problems/search", params={"q": q, "limit": limit})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"gateway at {self.gateway_url}: {exc!r}") from exc
        if resp.status_code >= 400:
            raise ServiceUnavailable(f"gateway search: {resp.status_code} {resp.text[:300]}")
        return resp.json()
