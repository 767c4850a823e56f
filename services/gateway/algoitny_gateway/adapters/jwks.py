"""The keys that verify access tokens, read from accounts' JWKS document (``/.well-known/jwks.json``).

Only accounts holds the private keys; the gateway holds public keys, which can verify a token
but never mint one. It reads the document on start (and reports ready only once it has keys),
again every ``refresh_s``, and at once (at most every ``min_interval_s``) when a token names a
key id it does not know: a key that accounts starts signing with after a rotation is picked up
with the first token it signed. A key dropped from the document stops verifying at the next read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from algoitny_shared.tokens import JWKS_PATH, VerificationKeys, unverified_kid
from algoitny_shared.upstream import first_url, upstream_client

log = logging.getLogger(__name__)


class JwksKeys:
    def __init__(
        self, accounts_url: str, *, refresh_s: float = 300.0, min_interval_s: float = 2.0, timeout_s: float = 5.0
    ) -> None:
        self._accounts = accounts_url  # one or more replicas, comma-separated
        self.url = first_url(accounts_url) + JWKS_PATH
        self._refresh_s = refresh_s
        self._min_interval_s = min_interval_s
        self._timeout_s = timeout_s
        self._keys = VerificationKeys({})
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    def get(self, kid: object) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def document(self) -> dict[str, Any]:
        """The public keys the gateway verifies with, as a JWKS document."""
        return self._keys.jwks()

    async def ready(self) -> None:
        if not len(self._keys):
            raise ConnectionError(f"no token verification keys yet from {self.url}")

    async def refresh(self, *, force: bool = False) -> bool:
        """Read the document now (unless read within ``min_interval_s``); True if it was read."""
        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < self._min_interval_s:
                return False
            self._fetched_at = time.monotonic()
            async with upstream_client(self._accounts, name="accounts", timeout=self._timeout_s) as client:
                resp = await client.get(JWKS_PATH)
                resp.raise_for_status()
                keys = VerificationKeys.from_jwks(resp.json())
            if not len(keys):
                raise ValueError(f"{self.url} lists no Ed25519 key")
            if keys.kids != self._keys.kids:
                log.info("token verification keys: %s", ", ".join(keys.kids))
            self._keys = keys
            return True

    async def ensure(self, authorization: str | None) -> None:
        """Before verifying a bearer token: re-read the document if the token names an unknown key."""
        if not authorization:
            return
        token = authorization.partition(" ")[2].strip()
        kid = unverified_kid(token) if token.count(".") == 2 else None
        if kid is None or self.get(kid) is not None:
            return
        try:
            await self.refresh()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not re-read %s: %s", self.url, exc)

    async def run(self) -> None:
        """Keep the keys current for ever: every second until the first read works, then every ``refresh_s``."""
        while True:
            try:
                await self.refresh(force=True)
                await asyncio.sleep(self._refresh_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("token verification keys not read from %s (%s); retrying", self.url, exc)
                await asyncio.sleep(1.0)
