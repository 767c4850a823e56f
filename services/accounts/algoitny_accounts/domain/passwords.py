"""Password hashing (argon2id) and the password policy (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 128

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~20-40 ms per hash here.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)

# The most common passwords of public breach lists that satisfy the length rule.
_COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "1q2w3e4r5t",
        "qwertyuiop",
        "1qaz2wsx3edc",
        "password12",
        "password123",
        "password1234",
        "iloveyou12",
        "qwerty1234",
        "qwerty12345",
        "abcdefghij",
        "letmein123",
        "welcome123",
        "administrator",
        "changeme123",
        "passw0rd123",
        "football123",
        "baseball123",
        "algoitny123",
    }
)


# Hashes imported from the legacy Django application: ``pbkdf2_sha256$<iterations>$<salt>$<b64>``
# (Django's PBKDF2PasswordHasher: HMAC-SHA256, 32-byte key, standard base64). Verified as they
# are; the first successful sign-in replaces one with argon2id (``needs_rehash``).
DJANGO_PBKDF2 = "pbkdf2_sha256"
# Bounds on an imported hash's work factor: a hash beyond them is refused at import, so a
# crafted row cannot make every sign-in attempt at that e-mail burn seconds of CPU.
DJANGO_MIN_ITERATIONS = 1
DJANGO_MAX_ITERATIONS = 2_000_000


def django_pbkdf2_parts(encoded: str) -> tuple[int, str, bytes] | None:
    """Iterations, salt and key of a well-formed Django ``pbkdf2_sha256`` hash (None otherwise)."""
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != DJANGO_PBKDF2 or not parts[1].isdigit() or not parts[2]:
        return None
    iterations = int(parts[1])
    if not DJANGO_MIN_ITERATIONS <= iterations <= DJANGO_MAX_ITERATIONS or "$" in parts[2]:
        return None
    try:
        key = base64.b64decode(parts[3], validate=True)
    except (ValueError, TypeError):
        return None
    if len(key) != 32:
        return None
    return iterations, parts[2], key


def is_django_hash(encoded: str) -> bool:
    return django_pbkdf2_parts(encoded) is not None


def check_django_password(password: str, encoded: str) -> bool:
    parts = django_pbkdf2_parts(encoded)
    if parts is None:
        return False
    iterations, salt, expected = parts
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations, dklen=len(expected))
    return hmac.compare_digest(derived, expected)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(password: str, encoded: str) -> bool:
    if encoded.startswith(DJANGO_PBKDF2 + "$"):
        return check_django_password(password, encoded)
    try:
        return _HASHER.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """True for anything but argon2id with today's parameters (imported Django hashes included)."""
    try:
        return _HASHER.check_needs_rehash(encoded)
    except InvalidHashError:
        return True


def policy_violations(password: str, email: str) -> list[str]:
    """Why a new password is refused (empty: accepted). Length over composition rules (NIST 800-63B)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"must have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in _COMMON:
        problems.append("is one of the most common passwords")
    if len(set(password)) < 4:
        problems.append("must use at least 4 different characters")
    local = email.split("@", 1)[0].lower()
    if (len(local) >= 4 and local in lowered) or lowered == email.lower():
        problems.append("must not contain your e-mail address")
    return problems
