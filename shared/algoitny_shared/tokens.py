"""Access tokens (JWT, HS256): issued by accounts, verified by the gateway. One definition of the claims."""

from __future__ import annotations

import time
from typing import Any

import jwt
from pydantic import BaseModel

from algoitny_shared.errors import AppError, ErrorCode

ISSUER = "algoitny-accounts"
ALGORITHM = "HS256"


class AccessClaims(BaseModel):
    sub: str
    role: str
    plan: str
    exp: int
    iat: int


def issue(secret: str, *, user_id: str, role: str, plan: str, ttl_s: int) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": role,
        "plan": plan,
        "iat": now,
        "exp": now + ttl_s,
        "iss": ISSUER,
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> AccessClaims:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError:
        raise AppError(ErrorCode.UNAUTHENTICATED, "The access token has expired") from None
    except jwt.InvalidTokenError:
        raise AppError(ErrorCode.UNAUTHENTICATED, "The access token is not valid") from None
    if claims.get("typ") != "access":
        raise AppError(ErrorCode.UNAUTHENTICATED, "Not an access token")
    return AccessClaims.model_validate(claims)
