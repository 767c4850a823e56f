"""Access tokens (JWT signed with Ed25519, ``alg=EdDSA``): issued by accounts, verified by the gateway.

One definition of the claims. Only accounts holds private keys (:class:`SigningKeys`); it
publishes the public halves as a JWKS document (``/.well-known/jwks.json``) and the gateway
verifies with those (:class:`VerificationKeys`): no other service holds a key that can mint a
user's token. Keys rotate: the current key signs, previous keys stay in the JWKS (and so still
verify) until the tokens they signed have expired (one access-token lifetime). The key id in
the JWT header is the key's RFC 7638 thumbprint, so no key names need configuring.
Refresh tokens are *not* JWTs (see the accounts service): they are opaque, stored and
rotated, so neither kind of token can stand in for the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from algoitny_shared.errors import AppError, ErrorCode

ISSUER = "algoitny-accounts"
AUDIENCE = "algoitny-api"
ALGORITHM = "EdDSA"
ACCESS = "access"
MAX_TOKEN_CHARS = 4096
JWKS_PATH = "/.well-known/jwks.json"
SEED_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_key() -> str:
    """A new private signing key as configured (``ALGOITNY_TOKEN_SIGNING_KEY``): 32 random bytes, base64url."""
    return _b64(secrets.token_bytes(SEED_BYTES))


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """A private key from its configured form: a base64url 32-byte seed, or a PKCS#8 PEM."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the token signing key must be an Ed25519 key")
        return key
    try:
        seed = _unb64(text)
    except (binascii.Error, ValueError):
        raise ValueError("the token signing key is not base64url") from None
    if len(seed) != SEED_BYTES:
        raise ValueError(f"the token signing key must be {SEED_BYTES} bytes (base64url); make one with generate_key()")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    # RFC 7638 thumbprint: the required members, sorted, no white space.
    thumbprint = hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()).digest()
    return {**jwk, "kid": _b64(thumbprint)[:22], "alg": ALGORITHM, "use": "sig"}


class KeySource(Protocol):
    def get(self, kid: object) -> Ed25519PublicKey | None: ...


class VerificationKeys:
    """Public keys by key id: what the gateway verifies with (from accounts' JWKS document)."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any]) -> VerificationKeys:
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in document.get("keys", []):
            if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                continue  # only what we sign with; anything else can never verify a token
            try:
                public = Ed25519PublicKey.from_public_bytes(_unb64(str(jwk["x"])))
            except (KeyError, ValueError, binascii.Error):
                continue
            kid = public_jwk(public)["kid"]
            if jwk.get("kid") == kid:  # a key id must name this very key
                keys[kid] = public
        return cls(keys)

    def get(self, kid: object) -> Ed25519PublicKey | None:
        return self._keys.get(kid) if isinstance(kid, str) else None

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(k) for k in self._keys.values()]}

    def __len__(self) -> int:
        return len(self._keys)


class SigningKeys:
    """The current private key (signs) and earlier ones (their public halves stay published)."""

    def __init__(self, current: Ed25519PrivateKey, previous: Iterable[Ed25519PrivateKey] = ()) -> None:
        self._current = current
        self.current_kid = public_jwk(current.public_key())["kid"]
        publics = [current.public_key(), *(p.public_key() for p in previous)]
        self._verification = VerificationKeys({public_jwk(p)["kid"]: p for p in publics})

    @classmethod
    def parse(cls, current: str, previous_csv: str = "") -> SigningKeys:
        previous = [parse_private_key(p) for p in previous_csv.split(",") if p.strip()]
        return cls(parse_private_key(current), previous)

    @classmethod
    def generate(cls) -> SigningKeys:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self._current, algorithm=ALGORITHM, headers={"kid": self.current_kid})

    def verification(self) -> VerificationKeys:
        return self._verification

    def get(self, kid: object) -> Ed25519PublicKey | None:
        return self._verification.get(kid)

    def jwks(self) -> dict[str, Any]:
        """The JWKS document accounts publishes (public keys only; the current one first)."""
        return self._verification.jwks()


class AccessClaims(BaseModel):
    sub: str
    role: str
    plan: str
    jti: str
    exp: int
    iat: int
    # The plan's may-register-problems flag as accounts knew it when the token was issued.
    may_register: bool = False
    # The sign-in session (refresh-token family) the token belongs to: signing out revokes it.
    sid: str | None = None
    # The user's version when the token was issued: a role, plan or session change at a later
    # version ends the token's powers at every gateway (accounts announces it as an event).
    ver: int | None = None


def issue(
    keys: SigningKeys,
    *,
    user_id: str,
    role: str,
    plan: str,
    ttl_s: int,
    may_register: bool = False,
    session_id: str | None = None,
    user_version: int | None = None,
) -> tuple[str, AccessClaims]:
    now = int(time.time())
    claims = AccessClaims(
        sub=user_id,
        role=role,
        plan=plan,
        jti=uuid.uuid4().hex,
        iat=now,
        exp=now + ttl_s,
        may_register=may_register,
        sid=session_id,
        ver=user_version,
    )
    payload = {**claims.model_dump(exclude_none=True), "iss": ISSUER, "aud": AUDIENCE, "typ": ACCESS}
    return keys.sign(payload), claims


def unverified_kid(token: str) -> str | None:
    """The key id a token names (before verification: only to find the key)."""
    # Read here, not with jwt.get_unverified_header: the gateway asks on every request (to see
    # whether the keys must be re-read), and PyJWT's checks of the whole token cost about a tenth of
    # a millisecond each time. verify() checks the token in full.
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        return None
    head = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def verify(keys: KeySource, token: str) -> AccessClaims:
    invalid = AppError(ErrorCode.UNAUTHENTICATED, "The access token is not valid")
    if len(token) > MAX_TOKEN_CHARS:
        raise invalid
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise invalid from None
    # The algorithm is fixed here, never taken from the token (no alg=none, no HS/EdDSA confusion).
    if header.get("alg") != ALGORITHM:
        raise invalid
    key = keys.get(header.get("kid"))
    if key is None:
        raise AppError(ErrorCode.UNAUTHENTICATED, "The access token was signed with an unknown key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise AppError(ErrorCode.UNAUTHENTICATED, "The access token has expired") from None
    except jwt.InvalidTokenError:
        raise invalid from None
    if claims.get("typ") != ACCESS:
        raise AppError(ErrorCode.UNAUTHENTICATED, "Not an access token")
    try:
        return AccessClaims.model_validate(claims)
    except ValidationError:
        raise invalid from None


if __name__ == "__main__":  # python -m algoitny_shared.tokens: print a new signing key
    print(generate_key())
