"""Users in DynamoDB: ``USER#<id>`` items plus ``EMAIL#`` / ``GOOGLE#`` guards that keep both unique.

A GSI cannot enforce uniqueness, so every write that claims an e-mail or a Google id
puts its guard with ``attribute_not_exists(pk)`` in the same transaction as the user.
Sign-in reads the guard (a strongly consistent GetItem), never a Scan; lists use
PlanIndex / UserListIndex queries.
"""

from __future__ import annotations

import builtins
from typing import Any

from algoitny_accounts.adapters.tables import USERS
from algoitny_accounts.domain.users import SearchField, User, name_key, normalise_email
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import batch_get, from_item, put_if_absent, to_item

LISTED = "USER"


def _user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _email_pk(email: str) -> str:
    return f"EMAIL#{normalise_email(email)}"


def _google_pk(subject: str) -> str:
    return f"GOOGLE#{subject}"


class UserRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = USERS.physical(namespace)

    def _user_item(self, user: User) -> dict[str, Any]:
        return to_item(self._user_data(user))

    def _user_data(self, user: User) -> dict[str, Any]:
        data = user.model_dump(mode="json")
        # A blank name (white space only) has no name_key: an empty string may not be a GSI key
        # (NamePrefixIndex), and such a user cannot be found by name anyway (found by fuzzing: a 500).
        key = name_key(user.name) or None
        return {"pk": _user_pk(user.user_id), "listed": LISTED, "name_key": key, **data}

    def _guard(self, pk: str, user_id: str) -> dict[str, Any]:
        return put_if_absent(self.table, "pk", {"pk": pk, "user_id": user_id})

    def put_new(self, user: User) -> list[dict[str, Any]]:
        """Transaction items: the user and its guards, all only if absent (guards first: reasons line up)."""
        items = [self._guard(_email_pk(user.email), user.user_id)]
        if user.google_id:
            items.append(self._guard(_google_pk(user.google_id), user.user_id))
        items.append(put_if_absent(self.table, "pk", self._user_data(user)))
        return items

    def put_updated(self, user: User, expected_version: int) -> dict[str, Any]:
        """Transaction item: the whole user, only if nobody changed it since ``expected_version``."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": self._user_item(user),
                "ConditionExpression": "attribute_exists(pk) AND #v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        }

    def claim_google_id(self, subject: str, user_id: str) -> dict[str, Any]:
        return self._guard(_google_pk(subject), user_id)

    def claim_email(self, email: str, user_id: str) -> dict[str, Any]:
        return self._guard(_email_pk(email), user_id)

    def _release(self, pk: str, user_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.table,
                "Key": {"pk": {"S": pk}},
                "ConditionExpression": "attribute_not_exists(pk) OR user_id = :u",
                "ExpressionAttributeValues": {":u": {"S": user_id}},
            }
        }

    def release_email(self, email: str, user_id: str) -> dict[str, Any]:
        """Transaction item: give up the user's e-mail guard (only if it is the user's)."""
        return self._release(_email_pk(email), user_id)

    def release_google_id(self, subject: str, user_id: str) -> dict[str, Any]:
        return self._release(_google_pk(subject), user_id)

    def delete_items(self, user: User) -> list[dict[str, Any]]:
        """Transaction items removing a user and its guards (a user deleted in the legacy application)."""
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": _user_pk(user.user_id)}},
                    "ConditionExpression": "#v = :v",
                    "ExpressionAttributeNames": {"#v": "version"},
                    "ExpressionAttributeValues": {":v": {"N": str(user.version)}},
                }
            },
            self.release_email(user.email, user.user_id),
        ]
        if user.google_id:
            items.append(self.release_google_id(user.google_id, user.user_id))
        return items

    async def get(self, user_id: str) -> User | None:
        resp = await self._client.get_item(
            TableName=self.table, Key={"pk": {"S": _user_pk(user_id)}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return self._user(item) if item else None

    async def get_many(self, user_ids: builtins.list[str]) -> dict[str, User]:
        """The users of ``user_ids`` that exist (strongly consistent; one BatchGetItem per 100)."""
        keys = [{"pk": {"S": _user_pk(u)}} for u in user_ids]
        users = (self._user(item) for item in await batch_get(self._client, self.table, keys))
        return {user.user_id: user for user in users}

    async def _by_guard(self, pk: str) -> User | None:
        resp = await self._client.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        guard = resp.get("Item")
        return await self.get(guard["user_id"]["S"]) if guard else None

    async def by_email(self, email: str) -> User | None:
        return await self._by_guard(_email_pk(email))

    async def by_google_id(self, subject: str) -> User | None:
        return await self._by_guard(_google_pk(subject))

    async def list(
        self, plan_id: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[User], dict[str, Any] | None]:
        """Newest first: users of one plan (PlanIndex) or of every plan (UserListIndex)."""
        if plan_id:
            index, condition, values = "PlanIndex", "plan_id = :k", {":k": {"S": plan_id}}
        else:
            index, condition, values = "UserListIndex", "listed = :k", {":k": {"S": LISTED}}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        resp = await self._client.query(**kwargs)
        return [self._user(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    async def search(
        self, field: SearchField, prefix: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[builtins.list[User], dict[str, Any] | None]:
        """Users whose normalised e-mail or name starts with ``prefix``, in that key's order (AP-11)."""
        index, key = ("EmailPrefixIndex", "email") if field == "email" else ("NamePrefixIndex", "name_key")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "listed = :l AND begins_with(#k, :p)",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":l": {"S": LISTED}, ":p": {"S": prefix}},
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        resp = await self._client.query(**kwargs)
        return [self._user(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    async def ids_on_plan(self, plan_id: str) -> builtins.list[str]:
        """Every user id on a plan (PlanIndex, all pages): the fan-out of a plan change."""
        ids: builtins.list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "PlanIndex",
            "KeyConditionExpression": "plan_id = :p",
            "ExpressionAttributeValues": {":p": {"S": plan_id}},
            "ProjectionExpression": "user_id",
        }
        while True:
            resp = await self._client.query(**kwargs)
            ids.extend(i["user_id"]["S"] for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return ids
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def copy_plan_limits(self, user_id: str, plan_id: str, limits: dict[str, Any], rev: int) -> bool:
        """Set the user's copied plan limits if the user is still on the plan and has an older copy.

        Bumps ``version``, so a concurrent whole-item write (which checks it) cannot put the old copy back.
        """
        try:
            await self._client.update_item(
                TableName=self.table,
                Key={"pk": {"S": _user_pk(user_id)}},
                UpdateExpression="SET plan_limits = :l, plan_rev = :r ADD #v :one",
                ConditionExpression="attribute_exists(pk) AND plan_id = :p AND "
                "(attribute_not_exists(plan_rev) OR plan_rev < :r)",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={
                    ":l": to_item({"l": limits})["l"],
                    ":r": {"N": str(rev)},
                    ":p": {"S": plan_id},
                    ":one": {"N": "1"},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @staticmethod
    def _user(item: dict[str, Any]) -> User:
        data = from_item(item)
        data.pop("pk", None)
        data.pop("listed", None)
        data.pop("name_key", None)
        return User.model_validate(data)
