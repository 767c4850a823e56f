"""Legacy users: Django password hashes as they are, and the mapping rules (no I/O)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from algoitny_accounts.domain.legacy import canonical_columns, map_user, new_user, same_user, updated_user
from algoitny_accounts.domain.passwords import check_password, django_pbkdf2_parts, hash_password, needs_rehash
from algoitny_shared.legacy.canonical import row_digest
from algoitny_shared.legacy.changes import LegacyRowRefused
from algoitny_shared.legacy.identity import legacy_user_id
from algoitny_shared.legacy.rows import UserRow

# RFC 7914 section 11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1 (first 32 bytes of the 64 given).
RFC7914_KEY = bytes.fromhex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")


def django_hash(password: str, salt: str, iterations: int) -> str:
    """What Django's PBKDF2PasswordHasher.encode writes (base64 of the 32-byte SHA-256 key)."""
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations, 32)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode()}"


def test_a_published_pbkdf2_vector_in_django_format_verifies() -> None:
    encoded = "pbkdf2_sha256$1$salt$" + base64.b64encode(RFC7914_KEY).decode()
    assert check_password("passwd", encoded)
    assert not check_password("passwd2", encoded)
    assert needs_rehash(encoded)


def test_django_hashes_with_known_parameters_verify_and_need_rehash() -> None:
    encoded = django_hash("레거시 비밀번호 1", "c2FsdHNhbHQ", 1000)
    assert check_password("레거시 비밀번호 1", encoded)
    assert not check_password("레거시 비밀번호 2", encoded)
    assert needs_rehash(encoded)
    rehashed = hash_password("레거시 비밀번호 1")
    assert rehashed.startswith("$argon2id$") and not needs_rehash(rehashed)


@pytest.mark.parametrize(
    "encoded",
    [
        "pbkdf2_sha256$0$salt$" + base64.b64encode(RFC7914_KEY).decode(),  # no work
        "pbkdf2_sha256$999999999$salt$" + base64.b64encode(RFC7914_KEY).decode(),  # CPU bomb
        "pbkdf2_sha256$1$salt$" + base64.b64encode(RFC7914_KEY[:16]).decode(),  # short key
        "pbkdf2_sha256$1$salt$not*base64",
        "pbkdf2_sha256$1$$" + base64.b64encode(RFC7914_KEY).decode(),
        "pbkdf2_sha1$1$salt$" + base64.b64encode(RFC7914_KEY).decode(),
        "pbkdf2_sha256$1$salt",
    ],
)
def test_malformed_or_abusive_django_hashes_never_verify(encoded: str) -> None:
    assert django_pbkdf2_parts(encoded) is None
    assert not check_password("passwd", encoded)


def _row(**overrides: object) -> UserRow:
    columns: dict[str, object] = {
        "id": 42,
        "password": django_hash("legacy-pass-1", "abc", 1000),
        "last_login": None,
        "is_superuser": False,
        "email": "Mixed.Case@Example.COM",
        "name": "김민준",
        "picture": "",
        "google_id": None,
        "is_active": True,
        "is_staff": False,
        "created_at": "2023-03-01T08:00:00.123456Z",
        "updated_at": "2023-04-01T08:00:00Z",
        "subscription_plan_id": 3,
        **overrides,
    }
    return UserRow.model_validate(columns)


def test_mapping_keeps_identity_email_plan_and_password() -> None:
    row = _row()
    mapped = map_user(row)
    assert mapped.user_id == legacy_user_id(42) == legacy_user_id("42")
    assert mapped.user_id.startswith("u_") and len(mapped.user_id) == 24
    assert mapped.email == "mixed.case@example.com" and mapped.legacy["email"] == "Mixed.Case@Example.COM"
    assert mapped.plan_id == "legacy-3" and mapped.role == "user" and mapped.active
    assert mapped.password_hash == row.password and mapped.picture is None
    user = new_user(mapped, row)
    assert user.created_at == datetime(2023, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert not user.email_verified
    # verify's digest of the user equals the legacy row's
    assert row_digest("users", "accounts", canonical_columns(user)) == row_digest("users", "accounts", row.columns())


def test_google_only_users_have_no_password_and_keep_their_google_id() -> None:
    for unusable in ("!Xy12abcUnusable", ""):
        mapped = map_user(_row(password=unusable, google_id="1098765"))
        assert mapped.password_hash is None and mapped.google_id == "1098765"
        user = new_user(mapped, _row(password=unusable, google_id="1098765"))
        assert user.email_verified and not user.view().has_password


@pytest.mark.parametrize(
    ("staff", "superuser", "role"),
    [(False, False, "user"), (True, False, "admin"), (False, True, "admin"), (True, True, "admin")],
)
def test_staff_or_superuser_is_admin(staff: bool, superuser: bool, role: str) -> None:
    assert map_user(_row(is_staff=staff, is_superuser=superuser)).role == role


def test_inactive_stays_inactive_and_null_plan_is_the_default() -> None:
    mapped = map_user(_row(is_active=False, subscription_plan_id=None))
    assert not mapped.active and mapped.plan_id == "free"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"password": "bcrypt_sha256$$2b$12$abc"}, "not supported"),
        ({"password": "md5$salt$abc"}, "not supported"),
        ({"email": "not-an-address"}, "not an address"),
    ],
)
def test_rows_the_new_rules_refuse(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(LegacyRowRefused, match=reason):
        map_user(_row(**overrides))


def test_an_update_keeps_a_rehashed_password_unless_the_legacy_hash_changed() -> None:
    row = _row()
    user = new_user(map_user(row), row)
    signed_in = user.model_copy(update={"password_hash": hash_password("legacy-pass-1")})
    same = updated_user(signed_in, map_user(_row(updated_at="2024-01-01T00:00:00Z")))
    assert same.password_hash == signed_in.password_hash and same_user(signed_in, same)
    changed = updated_user(signed_in, map_user(_row(password=django_hash("new-pass-22", "x", 1000))))
    assert changed.password_hash is not None and changed.password_hash.startswith("pbkdf2_sha256$")
    assert not same_user(signed_in, changed)
