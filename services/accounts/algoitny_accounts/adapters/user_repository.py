"""Users in DynamoDB: ``USER#<id>`` items plus ``EMAIL#<email>`` guards that keep e-mails unique."""

from __future__ import annotations

import asyncio
from typing import Any

from algoitny_accounts.domain.users import User, normalise_email
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.tables import USERS


class UserRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = client
        self.table = USERS.physical(namespace)

    def put_new(self, user: User) -> list[dict[str, Any]]:
        """Transaction items: the user and its e-mail guard, both only if absent."""
        return [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({"pk": f"EMAIL#{user.email}", "user_id": user.user_id}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({"pk": f"USER#{user.user_id}", **user.model_dump(mode="json")}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]

    async def get(self, user_id: str) -> User | None:
        resp = await asyncio.to_thread(
            self._client.get_item, TableName=self.table, Key={"pk": {"S": f"USER#{user_id}"}}
        )
        item = resp.get("Item")
        return User.model_validate(from_item(item)) if item else None

    async def by_email(self, email: str) -> User | None:
        resp = await asyncio.to_thread(
            self._client.get_item, TableName=self.table, Key={"pk": {"S": f"EMAIL#{normalise_email(email)}"}}
        )
        guard = resp.get("Item")
        return await self.get(guard["user_id"]["S"]) if guard else None
