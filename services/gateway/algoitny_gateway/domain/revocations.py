"""Which access tokens no longer count, although their signature and expiry are fine.

Access tokens are verified locally (no call to accounts per request), so signing out or a
deactivation would otherwise take effect only when the token expires. The gateway keeps the
revocations accounts announces (session revoked, user deactivated) for as long as a token
issued before them could still be alive: one access-token lifetime, plus clock skew.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from algoitny_shared.tokens import AccessClaims

DEACTIVATED = "This account is deactivated"
SESSION_REASONS = {
    "logout": "This session was signed out; sign in again",
    "reuse": "This session was revoked because a refresh token was used twice; sign in again",
    "deactivated": DEACTIVATED,
}


@dataclass
class RevocationList:
    horizon_s: float
    _sessions: dict[str, tuple[float, str]] = field(default_factory=dict)
    _users: dict[str, float] = field(default_factory=dict)

    def revoke_session(self, session_id: str, at: float, reason: str = "logout") -> None:
        if session_id not in self._sessions:  # the first reason stands, as in accounts
            self._sessions[session_id] = (at, reason)

    def revoke_user(self, user_id: str, at: float) -> None:
        """Every token issued to the user up to ``at`` (a deactivation) is refused."""
        self._users[user_id] = max(at, self._users.get(user_id, at))

    def reason(self, claims: AccessClaims) -> str | None:
        """Why the token is refused, or None when it still counts."""
        deactivated_at = self._users.get(claims.sub)
        if deactivated_at is not None and claims.iat <= deactivated_at:
            return DEACTIVATED
        revoked = self._sessions.get(claims.sid) if claims.sid is not None else None
        if revoked is not None:
            return SESSION_REASONS.get(revoked[1], SESSION_REASONS["logout"])
        return None

    def prune(self, now: float) -> None:
        """Forget revocations older than any token that could still be alive."""
        cutoff = now - self.horizon_s
        for session_id in [k for k, (at, _) in self._sessions.items() if at < cutoff]:
            del self._sessions[session_id]
        for user_id in [k for k, at in self._users.items() if at < cutoff]:
            del self._users[user_id]

    def __len__(self) -> int:
        return len(self._sessions) + len(self._users)
