"""Refresh tokens: opaque, stored only as a SHA-256, used once, grouped in families.

Sign-in starts a family. Each refresh marks the presented token used and issues its
successor in one transaction, on condition that the token was unused and the family not
revoked. Presenting a used token again (a stolen copy, or the thief's after the owner's)
revokes the whole family, so both holders are signed out. Logout revokes the family.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from algoitny_accounts.adapters.tables import REFRESH_TOKENS
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item

PREFIX = "rt_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_pk(token: str) -> str:
    return f"TOKEN#{_digest(token)}"


def _family_pk(family_id: str) -> str:
    return f"FAMILY#{family_id}"


@dataclass(frozen=True)
class StoredToken:
    family_id: str
    user_id: str
    used: bool
    expires_at: int


@dataclass(frozen=True)
class Family:
    family_id: str
    user_id: str
    revoked: bool
    expires_at: int
    # The user's session epoch when the family started: a later epoch on the user ends it.
    epoch: int = 0


class RefreshTokenStore:
    def __init__(self, client: Any, namespace: str, ttl_s: int) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = REFRESH_TOKENS.physical(namespace)
        self.ttl_s = ttl_s

    @staticmethod
    def new_token() -> str:
        return PREFIX + secrets.token_urlsafe(32)

    def _token_put(self, token: str, family_id: str, user_id: str, expires_at: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {
                        "pk": _token_pk(token),
                        "family_id": family_id,
                        "user_id": user_id,
                        "expires_at": expires_at,
                        "created_at": int(time.time()),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def start_family(self, user_id: str, epoch: int = 0) -> tuple[str, str, list[dict[str, Any]]]:
        """A new family and its first token: (token, family id, transaction items)."""
        family_id = uuid.uuid4().hex
        expires_at = int(time.time()) + self.ttl_s
        token = self.new_token()
        family = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {"pk": _family_pk(family_id), "user_id": user_id, "expires_at": expires_at + 86_400, "epoch": epoch}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        return token, family_id, [family, self._token_put(token, family_id, user_id, expires_at)]

    def rotate(self, old: str, stored: StoredToken) -> tuple[str, list[dict[str, Any]]]:
        """Use ``old`` once and issue its successor in the same family (same absolute expiry)."""
        token = self.new_token()
        mark_used = {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": _token_pk(old)}},
                "UpdateExpression": "SET used_at = :now",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(used_at)",
                "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
            }
        }
        family_live = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": {"pk": {"S": _family_pk(stored.family_id)}},
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at)",
            }
        }
        successor = self._token_put(token, stored.family_id, stored.user_id, stored.expires_at)
        return token, [mark_used, family_live, successor]

    async def find(self, token: str) -> StoredToken | None:
        if not token.startswith(PREFIX):
            return None
        resp = await self._client.get_item(
            TableName=self.table, Key={"pk": {"S": _token_pk(token)}}, ConsistentRead=True
        )
        item = resp.get("Item")
        if not item:
            return None
        data = from_item(item)
        return StoredToken(data["family_id"], data["user_id"], "used_at" in data, int(data["expires_at"]))

    async def family(self, family_id: str) -> Family | None:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": _family_pk(family_id)}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        if not item:
            return None
        data = from_item(item)
        return Family(
            family_id, data["user_id"], "revoked_at" in data, int(data["expires_at"]), int(data.get("epoch", 0))
        )

    def revoke_family(self, family_id: str, reason: str) -> dict[str, Any]:
        """The write that revokes a family (first reason wins); commit it with its event."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": _family_pk(family_id)}},
                "UpdateExpression": "SET revoked_at = if_not_exists(revoked_at, :now), revoked_reason = "
                "if_not_exists(revoked_reason, :why)",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}, ":why": {"S": reason}},
            }
        }
