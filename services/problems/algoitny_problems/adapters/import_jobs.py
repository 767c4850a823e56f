"""Import jobs, kept as items ``IMPORT#<id>`` of the problems service's control table.

A job is written when it is accepted and on every state change (a Put conditioned on its
version, so two workers can never both finish it); jobs expire 30 days after their last
change. A running job carries a lease its worker renews; one whose lease ran out (the
process ended) is shown as interrupted.
"""

from __future__ import annotations

import time
from typing import Any

from algoitny_problems.domain.imports import ImportJob
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.uow import TransactionConflict

JOB_TTL_S = 30 * 24 * 3600


def import_pk(job_id: str) -> str:
    return f"IMPORT#{job_id}"


class ImportJobStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = table

    async def get(self, job_id: str) -> ImportJob | None:
        resp = await self._client.get_item(
            TableName=self.table, Key={"pk": {"S": import_pk(job_id)}}, ConsistentRead=True
        )
        item = resp.get("Item")
        if not item:
            return None
        data = from_item(item)
        for field in ("pk", "expires_at"):
            data.pop(field, None)
        return ImportJob.model_validate(data)

    async def save(self, job: ImportJob, *, expected_version: int | None) -> ImportJob:
        """Write ``job`` (as version ``expected_version + 1``; new when None); TransactionConflict if raced."""
        saved = job.model_copy(update={"version": 1 if expected_version is None else expected_version + 1})
        data = saved.model_dump(mode="json")
        data["pk"] = import_pk(job.id)
        data["expires_at"] = int(time.time()) + JOB_TTL_S
        if expected_version is None:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition, values = "version = :v", {":v": {"N": str(expected_version)}}
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": to_item(data), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            await self._client.put_item(**kwargs)
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            raise TransactionConflict(["ConditionalCheckFailed"]) from exc
        return saved
