"""Users, consents and the shapes of the accounts API (no I/O)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from algoitny_accounts.domain.passwords import MAX_LENGTH
from algoitny_shared.plan_ids import ADMIN_PLAN, DEFAULT_PLAN  # noqa: F401 - the accounts modules import both from here

Role = Literal["user", "admin"]
ConsentKind = Literal["terms", "privacy", "code_ownership"]
PLAN_PATTERN = r"^[a-z][a-z0-9_-]{1,31}$"
USER_ID_PATTERN = r"^u_[A-Za-z0-9_-]{22}$"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def name_key(name: str) -> str:
    """A name as the admin search matches it: lower case, runs of white space as one space."""
    return " ".join(name.lower().split())


def new_user_id() -> str:
    """128 random bits: not derived from time or counters, so ids reveal nothing and never collide."""
    return "u_" + secrets.token_urlsafe(16)


def now_utc() -> datetime:
    return datetime.now(UTC)


class Consent(BaseModel):
    version: str
    accepted_at: datetime


class User(BaseModel):
    user_id: str
    email: str
    email_verified: bool = False
    name: str
    picture: str | None = None
    google_id: str | None = None
    role: Role = "user"
    plan_id: str = DEFAULT_PLAN
    plan_limits: dict[str, Any] | None = Field(
        default=None, description="Copied from the plan (kept current from ratelimit's plan events)"
    )
    plan_rev: int = Field(default=0, description="Version of the plan event plan_limits was copied from")
    active: bool = True
    consents: dict[str, Consent] = Field(default_factory=dict)
    password_hash: str | None = None
    session_epoch: int = Field(
        default=0, description="Sessions (refresh families) started at an earlier epoch no longer refresh"
    )
    created_at: datetime
    updated_at: datetime
    version: int = 1
    legacy: dict[str, Any] | None = Field(
        default=None, description="Imported from the legacy application: its id and the columns kept for verify"
    )

    @classmethod
    def new(
        cls,
        email: str,
        name: str,
        *,
        role: Role = "user",
        plan_id: str = DEFAULT_PLAN,
        password_hash: str | None = None,
        google_id: str | None = None,
        email_verified: bool = False,
        picture: str | None = None,
    ) -> User:
        now = now_utc()
        return cls(
            user_id=new_user_id(),
            email=normalise_email(email),
            email_verified=email_verified,
            name=name,
            picture=picture,
            google_id=google_id,
            role=role,
            plan_id=plan_id,
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
        )

    @property
    def may_register(self) -> bool:
        """The plan's may-register-problems flag, as copied into the user."""
        return bool((self.plan_limits or {}).get("may_register_problems", False))

    def view(self) -> UserView:
        return UserView(
            user_id=self.user_id,
            email=self.email,
            email_verified=self.email_verified,
            name=self.name,
            picture=self.picture,
            role=self.role,
            plan_id=self.plan_id,
            plan_limits=self.plan_limits,
            active=self.active,
            consents=self.consents,
            google_linked=self.google_id is not None,
            has_password=self.password_hash is not None,
            created_at=self.created_at,
        )


class UserView(BaseModel):
    """What the API shows of a user: never the password hash or the Google subject id."""

    user_id: str
    email: str
    email_verified: bool
    name: str
    picture: str | None
    role: Role
    plan_id: str
    plan_limits: dict[str, Any] | None
    active: bool
    consents: dict[str, Consent]
    google_linked: bool
    has_password: bool
    created_at: datetime


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Password = Field(min_length=1, max_length=MAX_LENGTH)


class RegisterRequest(_Body):
    email: EmailStr = Field(max_length=254)
    password: str = Password
    name: str = Field(min_length=1, max_length=80)


class LoginRequest(_Body):
    email: EmailStr = Field(max_length=254)
    password: str = Password


class GoogleRequest(_Body):
    id_token: str = Field(min_length=20, max_length=8192)


class RefreshRequest(_Body):
    refresh_token: str = Field(min_length=20, max_length=4096)


class UpdateMeRequest(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    picture: str | None = Field(default=None, max_length=2048, pattern=r"^https://")


class ConsentRequest(_Body):
    kind: ConsentKind
    version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")


class AdminUpdateRequest(_Body):
    plan_id: str | None = Field(default=None, pattern=PLAN_PATTERN)
    role: Role | None = None
    active: bool | None = None


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: UserView


SearchField = Literal["email", "name"]


class UserPage(BaseModel):
    items: list[UserView]
    next_cursor: str | None
