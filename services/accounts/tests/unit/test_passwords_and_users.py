from algoitny_accounts.domain.passwords import check_password, hash_password, needs_rehash, policy_violations
from algoitny_accounts.domain.users import User, normalise_email


def test_argon2id_hash_verifies_and_is_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$") and first != second
    assert check_password("correct horse", first) and check_password("correct horse", second)
    assert not check_password("wrong", first)
    assert not check_password("x", "garbage")
    assert not needs_rehash(first) and needs_rehash("garbage")


def test_password_policy() -> None:
    email = "alice.smith@example.com"
    assert policy_violations("correct horse battery", email) == []
    assert policy_violations("short", email)
    assert policy_violations("password123", email)
    assert policy_violations("aaaaaaaaaaaaaaaa", email)
    assert policy_violations("alice.smith2024!", email)
    assert policy_violations("x" * 129, email)


def test_email_normalisation_and_random_ids() -> None:
    assert normalise_email("  Admin@AlgoItny.DEV ") == "admin@algoitny.dev"
    a, b = User.new("A@x.dev", "A"), User.new("A@x.dev", "A")
    assert a.email == "a@x.dev" and a.user_id != b.user_id and len(a.user_id) == 24
    view = a.view().model_dump()
    assert "password_hash" not in view and "google_id" not in view
