"""The way back (issue 16): a platform user as a legacy users row Django can sign in with."""

from __future__ import annotations

from datetime import UTC, datetime

from argon2 import PasswordHasher

from algoitny_accounts.domain.legacy import django_password, legacy_export
from algoitny_accounts.domain.passwords import hash_password
from algoitny_accounts.domain.users import User


def _django_argon2_verify(encoded: str, password: str) -> bool:
    """What Django's Argon2PasswordHasher.verify does: algorithm, rest = encoded.split('$', 1);
    argon2-cffi verifies '$' + rest (any parameters)."""
    algorithm, rest = encoded.split("$", 1)
    assert algorithm == "argon2"
    return PasswordHasher().verify("$" + rest, password)


def test_an_argon2id_hash_is_stored_as_django_stores_it() -> None:
    encoded = django_password(hash_password("secret-pass-16"), "x")
    assert encoded.startswith("argon2$argon2id$v=19$") and len(encoded) <= 128
    assert _django_argon2_verify(encoded, "secret-pass-16")


def test_kept_django_hashes_and_google_only_users() -> None:
    pbkdf2 = "pbkdf2_sha256$260000$salt$abc="
    assert django_password(pbkdf2, "x") == pbkdf2
    unusable = django_password(None, "f" * 64)
    assert unusable.startswith("!") and len(unusable) == 41  # Django's unusable password


def test_the_export_carries_the_legacy_columns() -> None:
    now = datetime.now(UTC)
    user = User(
        user_id="u_x",
        email="a@b.example",
        name="A",
        role="admin",
        plan_id="legacy-2",
        created_at=now,
        updated_at=now,
        password_hash=hash_password("secret-pass-16"),
        legacy={"id": 7},
    )
    row = legacy_export(user)
    assert row["legacy_id"] == 7 and row["is_staff"] and row["is_superuser"] and row["plan_id"] == "legacy-2"
    assert _django_argon2_verify(row["password"], "secret-pass-16")
