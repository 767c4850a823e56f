"""Who the caller is: an access token issued by accounts, or the operators' admin token."""

from __future__ import annotations

import hmac

from algoitny_shared import tokens
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity


class Authenticator:
    def __init__(self, token_secret: str, admin_token: str) -> None:
        self._secret = token_secret
        self._admin_token = admin_token.encode()

    def identify(self, authorization: str | None) -> Identity:
        if not authorization:
            return Identity()
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Use 'Authorization: Bearer <token>'")
        if hmac.compare_digest(token.encode(), self._admin_token):
            return Identity(user_id="operator", role="admin")
        claims = tokens.verify(self._secret, token)
        return Identity(user_id=claims.sub, role="admin" if claims.role == "admin" else "user")
