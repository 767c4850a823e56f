from algoitny_accounts.domain.users import check_password, hash_password, normalise_email


def test_password_hash_verifies_and_is_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert check_password("correct horse", first) and check_password("correct horse", second)
    assert not check_password("wrong", first)
    assert not check_password("x", "garbage")


def test_email_normalisation() -> None:
    assert normalise_email("  Admin@AlgoItny.DEV ") == "admin@algoitny.dev"
