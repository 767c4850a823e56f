"""Default and short secrets: allowed only in an explicit local or test environment (issue 23, item 5)."""

from __future__ import annotations

import importlib

import pytest
from pydantic import ValidationError

from algoitny_shared import tokens
from algoitny_shared.settings import ServiceSettings

SERVICES = ["accounts", "gateway", "problems", "executions", "ratelimit", "search_indexer", "hints", "stats"]


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"algoitny_{service}.settings")
    (cls,) = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, ServiceSettings)
        and v is not ServiceSettings
        and v.__module__ == module.__name__
    ]
    return cls


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ALGOITNY_") and (
            "SECRET" in name or "TOKEN" in name or "KEY" in name or "PASSWORD" in name
        ):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_the_public_defaults_outside_local_and_test(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    cls = _settings_class(service)
    for environment in ("local", "test"):
        monkeypatch.setenv("ALGOITNY_ENVIRONMENT", environment)
        cls()  # development runs keep working with the defaults
    for environment in (None, "production", "staging"):
        if environment is None:
            monkeypatch.delenv("ALGOITNY_ENVIRONMENT")  # unset means production
        else:
            monkeypatch.setenv("ALGOITNY_ENVIRONMENT", environment)
        with pytest.raises(ValidationError) as refused:
            cls()
        message = str(refused.value)
        # It names each setting to set.
        assert "ALGOITNY_INTERNAL_SECRET" in message and "ALGOITNY_CURSOR_SECRET" in message, message


def test_strong_secrets_start_and_short_ones_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("ALGOITNY_ENVIRONMENT", "production")
    strong = {
        "ALGOITNY_INTERNAL_SECRET": "i" * 40,
        "ALGOITNY_CURSOR_SECRET": "c" * 40,
        "ALGOITNY_TOKEN_SIGNING_KEY": tokens.generate_key(),
        "ALGOITNY_DEMO_ADMIN_PASSWORD": "a long demo admin password",
        "ALGOITNY_ADMIN_TOKEN": "o" * 40,
    }
    for name, value in strong.items():
        monkeypatch.setenv(name, value)
    for service in SERVICES:
        _settings_class(service)()
    monkeypatch.setenv("ALGOITNY_ADMIN_TOKEN", "")  # no operator token at all is allowed
    _settings_class("gateway")()
    monkeypatch.setenv("ALGOITNY_ADMIN_TOKEN", "short-operator-token")
    with pytest.raises(ValidationError, match="ALGOITNY_ADMIN_TOKEN is shorter than 32"):
        _settings_class("gateway")()
    monkeypatch.setenv("ALGOITNY_DEMO_ADMIN_PASSWORD", "change-me-admin-1")
    with pytest.raises(ValidationError, match="ALGOITNY_DEMO_ADMIN_PASSWORD is the public development default"):
        _settings_class("accounts")()


def test_only_accounts_holds_a_key_that_can_mint_a_user_token() -> None:
    for service in SERVICES:
        fields = set(_settings_class(service).model_fields)
        minting = {f for f in fields if f.startswith("token_") and "key" in f}
        assert bool(minting) == (service == "accounts"), (service, minting)
        assert "token_secret" not in fields
