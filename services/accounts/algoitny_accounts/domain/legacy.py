"""How a legacy Django user becomes an accounts user (no I/O).

Rules (docs: services/accounts/README.md, "Legacy import"):

- identity: ``legacy_user_id(id)`` (``algoitny_shared.legacy.identity``), the same user for ever;
- e-mail: kept as spelled in ``legacy.email``; the sign-in e-mail is its lower-case form, unique
  case-insensitively (the new rule), so of two legacy users differing only in case the one
  imported later is refused (quarantined with the reason);
- password: a Django ``pbkdf2_sha256`` hash is kept as it is (verified at sign-in, replaced by
  argon2id at the first successful sign-in); an unusable hash (``!...`` or empty) means a
  Google-only user (no password); any other hasher is refused;
- role: ``admin`` if ``is_staff`` or ``is_superuser`` (Django's admin site lets in staff; a
  superuser has every permission), otherwise ``user``; both flags are kept in ``legacy``;
- plan: ``legacy_plan_id(subscription_plan_id)``, or the default plan when NULL;
- ``is_active`` -> ``active`` (an inactive user stays inactive); ``created_at`` kept;
  ``google_id`` kept (Google sign-in finds the same user); the address counts as verified only
  for users with a Google id (Google verified it); blank ``picture``/``google_id`` -> none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from algoitny_accounts.domain.passwords import DJANGO_PBKDF2, is_django_hash
from algoitny_accounts.domain.users import DEFAULT_PLAN, Role, User, normalise_email
from algoitny_shared.legacy.canonical import password_usable
from algoitny_shared.legacy.changes import LegacyRowRefused
from algoitny_shared.legacy.identity import legacy_plan_id, legacy_user_id
from algoitny_shared.legacy.rows import UserRow

MAX_EMAIL = 254


def legacy_role(is_staff: bool, is_superuser: bool) -> Role:
    return "admin" if is_staff or is_superuser else "user"


def password_fingerprint(django_hash: str) -> str:
    """Which legacy hash a user was imported with (the hash itself may be replaced at sign-in)."""
    return hashlib.sha256(django_hash.encode()).hexdigest()


@dataclass(frozen=True)
class MappedUser:
    user_id: str
    email: str
    name: str
    picture: str | None
    google_id: str | None
    role: Role
    plan_id: str
    active: bool
    password_hash: str | None
    legacy: dict[str, Any]


def map_user(row: UserRow) -> MappedUser:
    email = normalise_email(row.email)
    if not email or "@" not in email or len(email) > MAX_EMAIL:
        raise LegacyRowRefused(f"e-mail {row.email!r} is not an address")
    password_hash: str | None = None
    if password_usable(row.password):
        if not is_django_hash(row.password):
            algorithm = row.password.split("$", 1)[0][:40]
            raise LegacyRowRefused(
                f"password hash of algorithm {algorithm!r} is not supported (only well-formed {DJANGO_PBKDF2} "
                "hashes are imported)"
            )
        password_hash = row.password
    return MappedUser(
        user_id=legacy_user_id(row.id),
        email=email,
        name=row.name,
        picture=row.picture or None,
        google_id=row.google_id or None,
        role=legacy_role(row.is_staff, row.is_superuser),
        plan_id=legacy_plan_id(row.subscription_plan_id) if row.subscription_plan_id is not None else DEFAULT_PLAN,
        active=row.is_active,
        password_hash=password_hash,
        legacy={
            "id": row.id,
            "email": row.email,
            "is_staff": row.is_staff,
            "is_superuser": row.is_superuser,
            "subscription_plan_id": row.subscription_plan_id,
            "google_id_blank": row.google_id == "",
            "password": password_fingerprint(row.password),
            "updated_at": row.updated_at.isoformat(),
        },
    )


def new_user(mapped: MappedUser, row: UserRow) -> User:
    return User(
        user_id=mapped.user_id,
        email=mapped.email,
        email_verified=mapped.google_id is not None,
        name=mapped.name,
        picture=mapped.picture,
        google_id=mapped.google_id,
        role=mapped.role,
        plan_id=mapped.plan_id,
        active=mapped.active,
        password_hash=mapped.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        legacy=mapped.legacy,
    )


def updated_user(user: User, mapped: MappedUser) -> User:
    """``user`` with what changed in the legacy row (the version is bumped by the caller). The
    password changes only when the legacy hash changed: the argon2id hash a sign-in made from
    the same legacy hash stays."""
    legacy_before = user.legacy or {}
    update: dict[str, Any] = {
        "email": mapped.email,
        "name": mapped.name,
        "picture": mapped.picture,
        "google_id": mapped.google_id,
        "role": mapped.role,
        "plan_id": mapped.plan_id,
        "active": mapped.active,
        "legacy": mapped.legacy,
    }
    if mapped.google_id is not None and mapped.google_id != user.google_id:
        update["email_verified"] = True
    if legacy_before.get("password") != mapped.legacy["password"]:
        update["password_hash"] = mapped.password_hash
    if mapped.plan_id != user.plan_id:
        update.update(plan_limits=None, plan_rev=0)
    return user.model_copy(update=update)


def same_user(a: User, b: User) -> bool:
    """No difference worth a write (the legacy ``updated_at`` alone is not one)."""
    ignore = {"version", "updated_at", "legacy"}
    la = {k: v for k, v in (a.legacy or {}).items() if k != "updated_at"}
    lb = {k: v for k, v in (b.legacy or {}).items() if k != "updated_at"}
    return a.model_dump(exclude=ignore) == b.model_dump(exclude=ignore) and la == lb


def canonical_columns(user: User) -> dict[str, Any]:
    """The legacy ``users`` columns accounts keeps, rebuilt from the user (for verify)."""
    legacy = user.legacy or {}
    google_id = user.google_id
    if google_id is None and legacy.get("google_id_blank"):
        google_id = ""
    return {
        "id": legacy.get("id"),
        "password_usable": user.password_hash is not None,
        "is_superuser": bool(legacy.get("is_superuser", False)),
        "email": legacy.get("email", user.email),
        "name": user.name,
        "picture": user.picture or "",
        "google_id": google_id,
        "is_active": user.active,
        "is_staff": bool(legacy.get("is_staff", False)),
        "created_at": user.created_at,
        "subscription_plan_id": legacy.get("subscription_plan_id"),
    }


# ---- the way back (issue 16): a platform user as the legacy application's users row


def django_password(password_hash: str | None, fill: str) -> str:
    """The ``users.password`` value Django verifies: a kept ``pbkdf2_sha256$...`` hash as it is; an
    argon2id PHC string ``$argon2id$v=19$m=...`` as Django's Argon2PasswordHasher stores it
    (``argon2`` + the PHC string: Django passes the rest to argon2-cffi, any parameters); none
    (Google-only) as Django's unusable password, ``!`` + 40 characters (``fill``)."""
    if not password_hash:
        return "!" + fill[:40].ljust(40, "x")
    if password_hash.startswith("$argon2"):
        return "argon2" + password_hash
    return password_hash


def legacy_export(user: User) -> dict[str, Any]:
    """The users row of ``user`` in the legacy columns (the plan as the platform's plan id; the
    reverse writer maps it to the legacy plan's id)."""
    legacy_id = (user.legacy or {}).get("id")
    return {
        "user_id": user.user_id,
        "legacy_id": legacy_id,
        "email": user.email,
        "name": user.name,
        "picture": user.picture or "",
        "google_id": user.google_id,
        "password": django_password(user.password_hash, hashlib.sha256(user.user_id.encode()).hexdigest()),
        "is_active": user.active,
        "is_staff": user.role == "admin",
        "is_superuser": user.role == "admin",
        "plan_id": user.plan_id,
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }
