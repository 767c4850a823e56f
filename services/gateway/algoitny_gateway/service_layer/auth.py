"""Who the caller is, and whether they may call a route.

An access token issued by accounts (verified locally with accounts' public keys: no call
to accounts per request), or the operators' admin token (scripts, CI, demo loader).
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable

from algoitny_gateway.domain.revocations import RevocationList
from algoitny_gateway.domain.routes import Access
from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity

OPERATOR = "operator"


# Verified tokens kept (their claims), least recently used dropped first: a user's requests within
# a token's lifetime (15 minutes) check its signature once (about 0.2 ms of CPU each time here).
MAX_KEPT_TOKENS = 20_000


class Authenticator:
    def __init__(
        self,
        keys: tokens.KeySource,
        admin_token: str,
        revocations: RevocationList | None = None,
        *,
        clock: Callable[[], float] = time.time,
        max_kept: int = MAX_KEPT_TOKENS,
    ) -> None:
        self._keys = keys
        self._admin_token = admin_token.encode()
        self._revocations = revocations
        self._clock = clock
        self._max_kept = max_kept
        # token -> (claims, key id, the key object that verified it)
        self._kept: OrderedDict[str, tuple[tokens.AccessClaims, object, object]] = OrderedDict()

    def kept(self) -> int:
        return len(self._kept)

    def _verified(self, token: str) -> tokens.AccessClaims:
        """The token's claims: verified now, or earlier with the key still served and not expired
        since (a kept token is the exact string that was verified; revocations are checked by the
        caller on every request either way)."""
        found = self._kept.get(token)
        if found is not None:
            claims, kid, key = found
            if key is not None and self._keys.get(kid) is key:
                if self._clock() >= claims.exp:
                    del self._kept[token]
                    raise AppError(ErrorCode.UNAUTHENTICATED, "The access token has expired")
                self._kept.move_to_end(token)
                return claims
            del self._kept[token]  # its key was rotated out or replaced: verify again
        claims = tokens.verify(self._keys, token)
        kid = tokens.unverified_kid(token)
        self._kept[token] = (claims, kid, self._keys.get(kid))
        while len(self._kept) > self._max_kept:
            self._kept.popitem(last=False)
        return claims

    def identify(self, authorization: str | None, client_ip: str | None = None) -> Identity:
        if not authorization:
            return Identity(client_ip=client_ip)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Use 'Authorization: Bearer <token>'")
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token):
            return Identity(user_id=OPERATOR, role="admin", plan="admin", client_ip=client_ip)
        claims = self._verified(token)
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
