"""Who is calling, as services learn it: a short-lived identity assertion signed by the gateway.

The gateway verifies the caller's access token, then sends the service one header,
``x-algoitny-identity``: base64url(JSON claims) "." base64url(HMAC-SHA256), keyed with
the internal secret that only the gateway and the services hold. The claims name the
user, role, plan, token id and client address, and are bound to the request's method
and upstream path and to a 30-second lifetime, so a captured assertion cannot be reused
for another route or later. Services verify it in :data:`CurrentIdentity`; a request
without one is anonymous, and the old bare headers (``x-algoitny-user``/``-role``) are
refused outright: nobody can become someone by setting a header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from algoitny_shared.errors import AppError, ErrorCode

IDENTITY_HEADER = "x-algoitny-identity"
# Identity headers of the first design, never trusted: their presence alone is refused.
USER_HEADER = "x-algoitny-user"
ROLE_HEADER = "x-algoitny-role"
FORGEABLE_HEADERS = (USER_HEADER, ROLE_HEADER)
INTERNAL_HEADERS = (IDENTITY_HEADER, *FORGEABLE_HEADERS)
ASSERTION_TTL_S = 30
MAX_ASSERTION_CHARS = 2048

Role = Literal["anonymous", "user", "admin"]


class Identity(BaseModel):
    user_id: str | None = None
    role: Role = "anonymous"
    plan: str | None = None
    token_id: str | None = None
    client_ip: str | None = None
    # The caller's plan may register problems: the plan's flag as accounts copied it into the
    # user when the access token was issued (token claim ``may_register``).
    may_register: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_authenticated(self) -> bool:
        return self.role != "anonymous" and self.user_id is not None

    @property
    def may_register_problems(self) -> bool:
        return self.is_admin or (self.is_authenticated and self.may_register)

    def require_admin(self) -> None:
        """401 for an anonymous caller, 403 for a signed-in one who is not an admin."""
        if not self.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in as an admin to do this")
        if not self.is_admin:
            raise AppError(ErrorCode.FORBIDDEN, "Only admins can do this")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _norm_path(path: str) -> str:
    return unquote(path)


class IdentitySigner:
    """Signs (gateway) and verifies (services) identity assertions with the internal secret."""

    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("the internal secret must be at least 32 bytes")
        self._key = hashlib.sha256(b"algoitny-identity:" + secret.encode()).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()

    def sign(self, identity: Identity, method: str, path: str, now: float | None = None) -> str:
        claims = {
            **identity.model_dump(exclude_none=True),
            "m": method.upper(),
            "pa": _norm_path(path),
            "exp": int((now or time.time()) + ASSERTION_TTL_S),
        }
        body = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def verify(self, value: str, method: str, path: str, now: float | None = None) -> Identity:
        invalid = AppError(ErrorCode.UNAUTHENTICATED, "The identity assertion is not valid")
        if len(value) > MAX_ASSERTION_CHARS or value.count(".") != 1:
            raise invalid
        body_b64, mac_b64 = value.split(".")
        try:
            body, mac = _unb64(body_b64), _unb64(mac_b64)
        except (ValueError, TypeError):
            raise invalid from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise invalid
        try:
            claims: dict[str, Any] = json.loads(body)
        except ValueError:
            raise invalid from None
        if not isinstance(claims, dict):
            raise invalid
        if claims.get("m") != method.upper() or claims.get("pa") != _norm_path(path):
            raise AppError(ErrorCode.UNAUTHENTICATED, "The identity assertion is for another request")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < (now or time.time()):
            raise AppError(ErrorCode.UNAUTHENTICATED, "The identity assertion has expired")
        try:
            return Identity.model_validate({k: v for k, v in claims.items() if k in Identity.model_fields})
        except ValidationError:
            raise invalid from None


def identity_of(request: Request) -> Identity:
    """The verified caller of a request to a service (anonymous without an assertion)."""
    if any(h in request.headers for h in FORGEABLE_HEADERS):
        raise AppError(ErrorCode.UNAUTHENTICATED, "Identity headers are not accepted; call through the gateway")
    value = request.headers.get(IDENTITY_HEADER)
    if value is None:
        return Identity()
    signer: IdentitySigner | None = getattr(request.app.state, "identity_signer", None)
    if signer is None:
        raise AppError(ErrorCode.UNAUTHENTICATED, "This service cannot verify identities")
    return signer.verify(value, request.method, request.scope.get("path", request.url.path))


async def current_identity(request: Request) -> Identity:
    """:func:`identity_of` as a route dependency. A coroutine on purpose: FastAPI runs a plain
    function dependency on a worker thread, which cost every service request two thread switches
    (and a wait for the GIL) for a check of a few microseconds."""
    return identity_of(request)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]
