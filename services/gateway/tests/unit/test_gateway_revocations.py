"""Signed-out sessions and deactivated users: their access tokens stop counting at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from algoitny_gateway.adapters.revocation_feed import apply
from algoitny_gateway.domain.revocations import RevocationList
from algoitny_gateway.service_layer.auth import Authenticator
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import (
    SessionRevoked,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRoleChanged,
    UserSessionsRevoked,
)

KEYS = tokens.SigningKeys.generate()


def _claims(sub: str = "u_1", sid: str | None = "s1", iat: int = 1_000, ver: int | None = None) -> tokens.AccessClaims:
    return tokens.AccessClaims(sub=sub, role="user", plan="free", jti="j", iat=iat, exp=iat + 900, sid=sid, ver=ver)


def _raw(payload: object, aggregate_id: str, version: int = 1) -> bytes:
    envelope = REGISTRY.envelope(payload, producer="accounts", aggregate_id=aggregate_id, aggregate_version=version)  # type: ignore[arg-type]
    return envelope.to_bytes()


def test_a_revoked_session_refuses_only_its_own_tokens() -> None:
    revocations = RevocationList(horizon_s=960)
    revocations.revoke_session("s1", at=1_010)
    assert revocations.reason(_claims(sid="s1")) is not None
    assert revocations.reason(_claims(sid="s2")) is None
    assert revocations.reason(_claims(sid=None)) is None  # tokens from before session ids


def test_the_answer_names_why_the_session_ended() -> None:
    revocations = RevocationList(horizon_s=960)
    revocations.revoke_session("a", at=1_010, reason="reuse")
    revocations.revoke_session("a", at=1_020, reason="logout")
    revocations.revoke_session("b", at=1_010, reason="deactivated")
    assert "used twice" in (revocations.reason(_claims(sid="a")) or "")
    assert revocations.reason(_claims(sid="b")) == "This account is deactivated"


def test_deactivation_refuses_tokens_issued_up_to_it() -> None:
    revocations = RevocationList(horizon_s=960)
    revocations.revoke_user("u_1", at=1_010.5)
    assert revocations.reason(_claims(iat=1_010)) == "This account is deactivated"
    assert revocations.reason(_claims(iat=1_011)) is None  # signed in again after reactivation
    assert revocations.reason(_claims(sub="u_2")) is None


def test_prune_forgets_only_what_no_live_token_can_need() -> None:
    revocations = RevocationList(horizon_s=960)
    revocations.revoke_session("old", at=1_000)
    revocations.revoke_session("new", at=1_500)
    revocations.revoke_user("u_1", at=1_000)
    revocations.prune(now=1_000 + 960)
    assert len(revocations) == 3
    revocations.prune(now=1_000 + 961)
    assert len(revocations) == 1
    assert revocations.reason(_claims(sid="new")) is not None


def test_feed_applies_the_accounts_events_it_cares_about() -> None:
    revocations = RevocationList(horizon_s=960)
    now = datetime.now(UTC)
    signed_out = SessionRevoked(user_id="u_1", session_id="s9", reason="logout", revoked_at=now)
    assert apply(revocations, _raw(signed_out, "s9"))
    assert apply(revocations, _raw(UserDeactivated(user_id="u_7", deactivated_at=now), "u_7"))
    assert not apply(revocations, _raw(UserReactivated(user_id="u_7", reactivated_at=now), "u_7"))
    assert not apply(revocations, b"not an envelope")
    assert revocations.reason(_claims(sid="s9")) is not None
    assert revocations.reason(_claims(sub="u_7", sid=None, iat=int(now.timestamp()))) is not None


def test_the_authenticator_refuses_a_revoked_token() -> None:
    revocations = RevocationList(horizon_s=960)
    auth = Authenticator(KEYS, "ops-token", revocations)
    session = uuid.uuid4().hex
    token, _ = tokens.issue(KEYS, user_id="u_1", role="user", plan="free", ttl_s=900, session_id=session)
    assert auth.identify(f"Bearer {token}").user_id == "u_1"
    revocations.revoke_session(session, at=datetime.now(UTC).timestamp())
    with pytest.raises(AppError) as refused:
        auth.identify(f"Bearer {token}")
    assert refused.value.code == ErrorCode.UNAUTHENTICATED and "signed out" in refused.value.detail


def test_role_plan_and_session_changes_refuse_tokens_of_earlier_user_versions() -> None:
    """Issue 23, item 10 (and 3): a demoted admin's or a moved user's earlier tokens stop counting,
    while the token issued at (or after) the change keeps working, even within the same second."""
    revocations = RevocationList(horizon_s=960)
    now = datetime.now(UTC)
    at = int(now.timestamp())
    demoted = UserRoleChanged(user_id="u_1", role="user", previous_role="admin", changed_at=now)
    assert apply(revocations, _raw(demoted, "u_1", version=5))
    assert "role or plan changed" in (revocations.reason(_claims(ver=4, iat=at)) or "")
    assert revocations.reason(_claims(ver=5, iat=at)) is None  # the refreshed token
    assert revocations.reason(_claims(ver=6, iat=at)) is None
    assert revocations.reason(_claims(ver=None, iat=at - 1)) is not None  # a token from before `ver`
    assert revocations.reason(_claims(sub="u_2", ver=1)) is None

    moved = UserPlanChanged(user_id="u_1", plan_id="free", previous_plan_id="studio", changed_at=now)
    assert apply(revocations, _raw(moved, "u_1", version=8))
    assert revocations.reason(_claims(ver=7, iat=at)) is not None
    assert revocations.reason(_claims(ver=8, iat=at)) is None
    # An older event delivered late does not lower the bar.
    assert apply(revocations, _raw(demoted, "u_1", version=5))
    assert revocations.reason(_claims(ver=7, iat=at)) is not None

    ended = UserSessionsRevoked(user_id="u_3", reason="verified_owner_linked", revoked_at=now)
    assert apply(revocations, _raw(ended, "u_3", version=3))
    assert "sign in again" in (revocations.reason(_claims(sub="u_3", ver=2, iat=at)) or "")
    assert revocations.reason(_claims(sub="u_3", ver=3, iat=at)) is None


def test_the_authenticator_refuses_a_demoted_admins_token() -> None:
    revocations = RevocationList(horizon_s=960)
    auth = Authenticator(KEYS, "ops-token", revocations)
    token, _ = tokens.issue(KEYS, user_id="u_9", role="admin", plan="admin", ttl_s=900, user_version=3)
    assert auth.identify(f"Bearer {token}").is_admin
    now = datetime.now(UTC)
    apply(
        revocations, _raw(UserRoleChanged(user_id="u_9", role="user", previous_role="admin", changed_at=now), "u_9", 4)
    )
    with pytest.raises(AppError) as refused:
        auth.identify(f"Bearer {token}")
    assert refused.value.code == ErrorCode.UNAUTHENTICATED
    fresh, _ = tokens.issue(KEYS, user_id="u_9", role="user", plan="free", ttl_s=900, user_version=4)
    assert auth.identify(f"Bearer {fresh}").role == "user"
