"""Opaque, tamper-proof pagination cursors: base64url(JSON) + HMAC-SHA256, bound to a scope.

The scope (e.g. the list and its filters) is part of the MAC, so a cursor from one
listing cannot be replayed against another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from algoitny_shared.errors import AppError, ErrorCode

_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _mac(self, scope: str, body: bytes) -> bytes:
        return hmac.new(self._key, scope.encode() + b"\x00" + body, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, position: dict[str, Any], scope: str = "") -> str:
        body = json.dumps(position, separators=(",", ":"), sort_keys=True, default=str).encode()
        return _b64(self._mac(scope, body) + body)

    def decode(self, cursor: str, scope: str = "") -> dict[str, Any]:
        invalid = AppError(ErrorCode.INVALID_CURSOR, "The cursor is malformed, tampered with, or from another listing")
        if not cursor or len(cursor) > 4096:
            raise invalid
        try:
            raw = _unb64(cursor)
        except (ValueError, TypeError):
            raise invalid from None
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(scope, body)):
            raise invalid
        try:
            position = json.loads(body)
        except ValueError:
            raise invalid from None
        if not isinstance(position, dict):
            raise invalid
        return position
