"""Which access tokens no longer count, although their signature and expiry are fine.

Access tokens are verified locally (no call to accounts per request), so signing out, a
deactivation or a role or plan change would otherwise take effect only when the token
expires. The gateway keeps what accounts announces (session revoked; user deactivated, role or
plan changed, sessions ended) for as long as a token issued before it could still be alive: one
access-token lifetime, plus clock skew.

A user-level revocation names the user's version after the change: a token carries the user
version it was issued at (``ver``), and one issued at an earlier version is refused. Tokens
without ``ver`` (issued before it existed) fall back to their issue time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from algoitny_shared.tokens import AccessClaims

DEACTIVATED = "This account is deactivated"
CHANGED = "Your role or plan changed since this token was issued; refresh it or sign in again"
SESSIONS_ENDED = "Every earlier session of this account was ended; sign in again"
SESSION_REASONS = {
    "logout": "This session was signed out; sign in again",
    "reuse": "This session was revoked because a refresh token was used twice; sign in again",
    "deactivated": DEACTIVATED,
}


@dataclass(frozen=True)
class UserRevocation:
    at: float
    version: int | None
    reason: str


@dataclass
class RevocationList:
    horizon_s: float
    _sessions: dict[str, tuple[float, str]] = field(default_factory=dict)
    _users: dict[str, UserRevocation] = field(default_factory=dict)

    def revoke_session(self, session_id: str, at: float, reason: str = "logout") -> None:
        if session_id not in self._sessions:  # the first reason stands, as in accounts
            self._sessions[session_id] = (at, reason)

    def revoke_user(self, user_id: str, at: float, version: int | None = None, reason: str = DEACTIVATED) -> None:
        """Every token issued to the user before this change (user version ``version``, time ``at``)
        is refused; the latest change is kept (a later one covers every token an earlier one did)."""
        known = self._users.get(user_id)
        if known is None or (version or 0, at) >= (known.version or 0, known.at):
            self._users[user_id] = UserRevocation(at, version, reason)

    def reason(self, claims: AccessClaims) -> str | None:
        """Why the token is refused, or None when it still counts."""
        revoked_user = self._users.get(claims.sub)
        if revoked_user is not None:
            if claims.ver is not None and revoked_user.version is not None:
                if claims.ver < revoked_user.version:
                    return revoked_user.reason
            elif claims.iat <= revoked_user.at:
                return revoked_user.reason
        revoked = self._sessions.get(claims.sid) if claims.sid is not None else None
        if revoked is not None:
            return SESSION_REASONS.get(revoked[1], SESSION_REASONS["logout"])
        return None

    def prune(self, now: float) -> None:
        """Forget revocations older than any token that could still be alive."""
        cutoff = now - self.horizon_s
        for session_id in [k for k, (at, _) in self._sessions.items() if at < cutoff]:
            del self._sessions[session_id]
        for user_id in [k for k, r in self._users.items() if r.at < cutoff]:
            del self._users[user_id]

    def __len__(self) -> int:
        return len(self._sessions) + len(self._users)
