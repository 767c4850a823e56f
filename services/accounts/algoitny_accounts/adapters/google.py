"""Google sign-in: verify a Google ID token against Google's published keys (JWKS).

Checks the RS256 signature with the key the token names (``kid``), the audience (our
OAuth client ids), the issuer and the expiry. The key source is a setting, so tests serve
locally generated keys from a local endpoint; keys are cached and refetched when a token
names an unknown key (Google rotates its keys).
"""

from __future__ import annotations

from typing import Any

import jwt
from pydantic import BaseModel, ValidationError

from algoitny_shared.errors import AppError, ErrorCode

ALGORITHMS = ["RS256"]


class GoogleIdentity(BaseModel):
    sub: str
    email: str
    email_verified: bool = False
    name: str | None = None
    picture: str | None = None


class GoogleVerifier:
    def __init__(
        self, jwks_url: str, client_ids: list[str], issuers: list[str], timeout_s: float = 5.0, leeway_s: int = 30
    ) -> None:
        self._client_ids = client_ids
        self._issuers = issuers
        self._leeway = leeway_s
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=int(max(1, timeout_s)))

    @property
    def configured(self) -> bool:
        return bool(self._client_ids)

    def verify(self, id_token: str) -> GoogleIdentity:
        """Blocking (may fetch the JWKS): call it in a thread."""
        invalid = AppError(ErrorCode.UNAUTHENTICATED, "The Google ID token is not valid")
        if not self.configured:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "Google sign-in is not configured")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.InvalidTokenError:
            raise invalid from None
        if header.get("alg") not in ALGORITHMS or not header.get("kid"):
            raise invalid
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "Google's signing keys could not be fetched") from exc
        except jwt.PyJWTError:
            raise invalid from None
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._client_ids,
                issuer=self._issuers,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Google ID token has expired") from None
        except jwt.PyJWTError:
            raise invalid from None
        try:
            return GoogleIdentity.model_validate(claims)
        except ValidationError:
            raise AppError(ErrorCode.UNAUTHENTICATED, "The Google ID token lacks an e-mail address") from None
