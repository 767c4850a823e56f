"""Who the caller is, and whether they may call a route.

An access token issued by accounts (verified locally with accounts' public keys: no call
to accounts per request), or the operators' admin token (scripts, CI, demo loader).
"""

from __future__ import annotations

import hmac

from algoitny_gateway.domain.revocations import RevocationList
from algoitny_gateway.domain.routes import Access
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity

OPERATOR = "operator"


class Authenticator:
    def __init__(self, keys: tokens.KeySource, admin_token: str, revocations: RevocationList | None = None) -> None:
        self._keys = keys
        self._admin_token = admin_token.encode()
        self._revocations = revocations

    def identify(self, authorization: str | None, client_ip: str | None = None) -> Identity:
        if not authorization:
            return Identity(client_ip=client_ip)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Use 'Authorization: Bearer <token>'")
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token):
            return Identity(user_id=OPERATOR, role="admin", plan="admin", client_ip=client_ip)
        claims = tokens.verify(self._keys, token)
        refused = self._revocations.reason(claims) if self._revocations is not None else None
        if refused is not None:
            raise AppError(ErrorCode.UNAUTHENTICATED, refused)
        return Identity(
            user_id=claims.sub,
            role="admin" if claims.role == "admin" else "user",
            plan=claims.plan,
            may_register=claims.may_register,
            token_id=claims.jti,
            client_ip=client_ip,
        )


def authorize(identity: Identity, access: Access) -> None:
    if access == "public":
        return
    if not identity.is_authenticated:
        raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to do this")
    if access == "admin" and not identity.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, "Only admins can do this")
    if access == "registrar" and not identity.may_register_problems:
        raise AppError(ErrorCode.FORBIDDEN, "Only admins and registrars can do this")


def client_address(peer: str | None, forwarded_for: str | None, trusted_hops: int) -> str | None:
    """The caller's address: the socket peer, or with ``trusted_hops`` proxies in front, the
    address the outermost trusted proxy appended to X-Forwarded-For (client-set entries to its
    left are ignored, so a client cannot choose its own address)."""
    if trusted_hops <= 0 or not forwarded_for:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    if len(hops) < trusted_hops:
        return peer
    return hops[-trusted_hops][:64]
