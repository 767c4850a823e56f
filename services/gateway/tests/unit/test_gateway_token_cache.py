"""Verified tokens are kept (the signature is checked once per token, not on every request), and
a kept token is still refused once it expires, once its key is no longer served, or once revoked."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from algoitny_gateway.domain.revocations import RevocationList
from algoitny_gateway.service_layer import auth as auth_module
from algoitny_gateway.service_layer.auth import Authenticator
from algoitny_shared import tokens
from algoitny_shared.errors import AppError

KEYS = tokens.SigningKeys.generate()


class Keys:
    """Keys as the gateway's JWKS view serves them (a key can stop being served)."""

    def __init__(self) -> None:
        self.served = True

    def get(self, kid: object) -> Ed25519PublicKey | None:
        return KEYS.get(kid) if self.served else None


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = tokens.verify

    def verify(keys: Any, token: str) -> tokens.AccessClaims:
        calls.append(token)
        return real(keys, token)

    monkeypatch.setattr(auth_module.tokens, "verify", verify)
    return calls


def test_a_token_is_verified_once_then_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    auth = Authenticator(Keys(), "")
    token, _ = tokens.issue(KEYS, user_id="u_1", role="user", plan="free", ttl_s=900)
    assert [auth.identify(f"Bearer {token}", "10.0.0.1").user_id for _ in range(3)] == ["u_1"] * 3
    assert auth.identify(f"Bearer {token}", "10.0.0.2").client_ip == "10.0.0.2"  # per request
    assert len(calls) == 1
    other, _ = tokens.issue(KEYS, user_id="u_2", role="user", plan="free", ttl_s=900)
    assert auth.identify(f"Bearer {other}").user_id == "u_2" and len(calls) == 2
    with pytest.raises(AppError):
        auth.identify(f"Bearer {token[:-2]}xx")  # another string: verified (and refused)


def test_a_kept_token_expires_on_time() -> None:
    now = [time.time()]
    auth = Authenticator(Keys(), "", clock=lambda: now[0])
    token, claims = tokens.issue(KEYS, user_id="u_1", role="user", plan="free", ttl_s=60)
    assert auth.identify(f"Bearer {token}").user_id == "u_1"
    now[0] = claims.exp
    with pytest.raises(AppError) as refused:
        auth.identify(f"Bearer {token}")
    assert "expired" in refused.value.detail


def test_a_kept_token_whose_key_is_no_longer_served_is_refused() -> None:
    keys = Keys()
    auth = Authenticator(keys, "")
    token, _ = tokens.issue(KEYS, user_id="u_1", role="user", plan="free", ttl_s=900)
    assert auth.identify(f"Bearer {token}").user_id == "u_1"
    keys.served = False
    with pytest.raises(AppError):
        auth.identify(f"Bearer {token}")


def test_a_kept_token_is_still_checked_against_revocations() -> None:
    revocations = RevocationList(horizon_s=960)
    auth = Authenticator(Keys(), "", revocations)
    token, _ = tokens.issue(KEYS, user_id="u_1", role="user", plan="free", ttl_s=900, session_id="s1")
    assert auth.identify(f"Bearer {token}").user_id == "u_1"
    revocations.revoke_session("s1", at=time.time())
    with pytest.raises(AppError):
        auth.identify(f"Bearer {token}")


def test_the_kept_tokens_are_bounded() -> None:
    auth = Authenticator(Keys(), "", max_kept=3)
    for n in range(5):
        token, _ = tokens.issue(KEYS, user_id=f"u_{n}", role="user", plan="free", ttl_s=900)
        auth.identify(f"Bearer {token}")
    assert auth.kept() == 3
