"""Access tokens (JWT, HS256 with key ids): issued by accounts, verified locally by the gateway.

One definition of the claims. Keys rotate: the current key signs, previous keys still
verify until the tokens they signed have expired (one access-token lifetime). The key
id in the JWT header is derived from the key itself, so no key names need configuring.
Refresh tokens are *not* JWTs (see the accounts service): they are opaque, stored and
rotated, so neither kind of token can stand in for the other.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
from pydantic import BaseModel, ValidationError

from algoitny_shared.errors import AppError, ErrorCode

ISSUER = "algoitny-accounts"
AUDIENCE = "algoitny-api"
ALGORITHM = "HS256"
ACCESS = "access"
MIN_KEY_BYTES = 32
MAX_TOKEN_CHARS = 4096


def key_id(secret: str) -> str:
    return hashlib.sha256(b"algoitny-kid:" + secret.encode()).hexdigest()[:16]


class Keyring:
    """The signing key and the keys that still verify (rotation)."""

    def __init__(self, current: str, previous: Iterable[str] = ()) -> None:
        keys = [current, *(p for p in previous if p)]
        short = [k for k in keys if len(k.encode()) < MIN_KEY_BYTES]
        if short:
            raise ValueError(f"token keys must be at least {MIN_KEY_BYTES} bytes")
        self.current_kid = key_id(current)
        self._keys = {key_id(k): k.encode() for k in keys}

    @classmethod
    def parse(cls, current: str, previous_csv: str = "") -> Keyring:
        return cls(current, [p.strip() for p in previous_csv.split(",") if p.strip()])

    def signing_key(self) -> tuple[str, bytes]:
        return self.current_kid, self._keys[self.current_kid]

    def get(self, kid: object) -> bytes | None:
        return self._keys.get(kid) if isinstance(kid, str) else None


class AccessClaims(BaseModel):
    sub: str
    role: str
    plan: str
    jti: str
    exp: int
    iat: int
    # The plan's may-register-problems flag as accounts knew it when the token was issued.
    may_register: bool = False
    # The sign-in session (refresh-token family) the token belongs to: signing out revokes it.
    sid: str | None = None


def issue(
    keyring: Keyring,
    *,
    user_id: str,
    role: str,
    plan: str,
    ttl_s: int,
    may_register: bool = False,
    session_id: str | None = None,
) -> tuple[str, AccessClaims]:
    now = int(time.time())
    claims = AccessClaims(
        sub=user_id,
        role=role,
        plan=plan,
        jti=uuid.uuid4().hex,
        iat=now,
        exp=now + ttl_s,
        may_register=may_register,
        sid=session_id,
    )
    kid, key = keyring.signing_key()
    token = jwt.encode(
        {**claims.model_dump(), "iss": ISSUER, "aud": AUDIENCE, "typ": ACCESS},
        key,
        algorithm=ALGORITHM,
        headers={"kid": kid},
    )
    return token, claims


def verify(keyring: Keyring, token: str) -> AccessClaims:
    invalid = AppError(ErrorCode.UNAUTHENTICATED, "The access token is not valid")
    if len(token) > MAX_TOKEN_CHARS:
        raise invalid
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise invalid from None
    # The algorithm is fixed here, never taken from the token (no alg=none, no RS/HS confusion).
    if header.get("alg") != ALGORITHM:
        raise invalid
    key = keyring.get(header.get("kid"))
    if key is None:
        raise AppError(ErrorCode.UNAUTHENTICATED, "The access token was signed with an unknown key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise AppError(ErrorCode.UNAUTHENTICATED, "The access token has expired") from None
    except jwt.InvalidTokenError:
        raise invalid from None
    if claims.get("typ") != ACCESS:
        raise AppError(ErrorCode.UNAUTHENTICATED, "Not an access token")
    try:
        return AccessClaims.model_validate(claims)
    except ValidationError:
        raise invalid from None
