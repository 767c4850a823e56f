"""DynamoDB persistence of generation jobs (table ScriptGenerationJobs, declared in
adapters/tables.py). Reads are GetItem or a Query on a GSI, newest first on the job id;
every state change is a Put conditioned on the item's version (optimistic), and a worker's
writes also on holding the lease, so a cancelled or re-claimed job can never be overwritten by
a worker that lost it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from algoitny_problems.adapters.keys import ts
from algoitny_problems.adapters.tables import SCRIPT_GENERATION_JOBS
from algoitny_problems.generation.domain.jobs import GenerationJob
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, put_if_absent, to_item


def job_item(job: GenerationJob) -> dict[str, Any]:
    data = job.model_dump(mode="json")
    for field in ("created_at", "updated_at", "started_at", "finished_at"):
        value = getattr(job, field)
        data[field] = ts(value) if value else None
    data["lease_expires_at"] = Decimal(str(round(job.lease_expires_at, 3))) if job.lease_expires_at else None
    data["problem_key"] = job.problem_key
    data["listed"] = "JOB"
    data["digests"] = job.digests or None  # DynamoDB refuses empty strings in no index, but keep items small
    return data


def job_from_item(item: dict[str, Any]) -> GenerationJob:
    data = from_item(item)
    data.setdefault("digests", "")
    return GenerationJob.model_validate(data)


class GenerationJobRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = SCRIPT_GENERATION_JOBS.physical(namespace)

    # ------------------------------------------------------------------ transaction items

    def put_new(self, job: GenerationJob) -> dict[str, Any]:
        return put_if_absent(self.table, "job_id", job_item(job))

    def put(self, job: GenerationJob, *, expected_version: int, lease_holder: str | None = None) -> dict[str, Any]:
        """The whole item, if nobody changed it since ``expected_version`` (and, for a worker, while it
        still holds the lease)."""
        condition = "#v = :v"
        values: dict[str, Any] = {":v": {"N": str(expected_version)}}
        if lease_holder is not None:
            condition += " AND lease_holder = :me"
            values[":me"] = {"S": lease_holder}
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(job_item(job)),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": values,
            }
        }

    # ------------------------------------------------------------------ single writes

    async def save(self, job: GenerationJob, *, expected_version: int, lease_holder: str | None = None) -> bool:
        put = self.put(job, expected_version=expected_version, lease_holder=lease_holder)["Put"]
        try:
            await self._client.put_item(**put)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def extend_lease(self, job_id: str, holder: str, until: float) -> bool:
        """The heartbeat: only while this worker holds the lease of a running job."""
        try:
            await self._client.update_item(
                TableName=self.table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET lease_expires_at = :until",
                ConditionExpression="lease_holder = :me AND #st = :running",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":until": {"N": f"{until:.3f}"},
                    ":me": {"S": holder},
                    ":running": {"S": "running"},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def delete(self, job_id: str) -> None:
        """Only for a hard-deleted problem's jobs (a job is otherwise kept as the record of a set)."""
        await self._client.delete_item(TableName=self.table, Key={"job_id": {"S": job_id}})

    # ------------------------------------------------------------------ reads

    async def get(self, job_id: str, consistent: bool = True) -> GenerationJob | None:
        resp = await self._client.get_item(
            TableName=self.table, Key={"job_id": {"S": job_id}}, ConsistentRead=consistent
        )
        item = resp.get("Item")
        return job_from_item(item) if item else None

    async def query(
        self,
        index: str,
        hash_name: str,
        hash_value: str,
        *,
        limit: int,
        before: str | None = None,
        oldest_first: bool = False,
        status: str | None = None,
        created_by: str | None = None,
    ) -> tuple[list[GenerationJob], bool]:
        """One GSI's jobs newest first (or oldest first), strictly before the job id ``before``;
        optionally only those in ``status`` and/or started by ``created_by`` (filters). Returns
        (jobs, more)."""
        key = "#h = :h"
        names = {"#h": hash_name}
        values: dict[str, Any] = {":h": {"S": hash_value}}
        if before:
            key += " AND job_id < :before" if not oldest_first else " AND job_id > :before"
            values[":before"] = {"S": before}
        kwargs: dict[str, Any] = {}
        filters: list[str] = []
        if status is not None:
            filters.append("#st = :st")
            names["#st"] = "status"
            values[":st"] = {"S": status}
        if created_by is not None:
            filters.append("#by = :by")
            names["#by"] = "created_by"
            values[":by"] = {"S": created_by}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        jobs: list[GenerationJob] = []
        start: dict[str, Any] | None = None
        while True:
            page_kwargs = dict(kwargs)
            if start:
                page_kwargs["ExclusiveStartKey"] = start
            resp = await self._client.query(
                TableName=self.table,
                IndexName=index,
                KeyConditionExpression=key,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ScanIndexForward=oldest_first,
                Limit=limit + 1,
                **page_kwargs,
            )
            jobs.extend(job_from_item(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if len(jobs) > limit or not start:
                break
        return jobs[:limit], len(jobs) > limit or bool(start and len(jobs) >= limit)
