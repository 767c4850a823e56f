"""Users and their credentials (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Role = Literal["user", "admin"]

# scrypt parameters: ~16 MiB and ~50 ms per hash on this class of machine.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    try:
        _, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def normalise_email(email: str) -> str:
    return email.strip().lower()


class User(BaseModel):
    user_id: str
    email: str
    display_name: str
    role: Role
    plan_id: str
    password_hash: str | None = None
    created_at: datetime

    @classmethod
    def new(cls, email: str, display_name: str, role: Role, plan_id: str, password: str | None) -> User:
        return cls(
            user_id=uuid.uuid4().hex,
            email=normalise_email(email),
            display_name=display_name,
            role=role,
            plan_id=plan_id,
            password_hash=hash_password(password) if password else None,
            created_at=datetime.now(UTC),
        )


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user_id: str
    role: Role
