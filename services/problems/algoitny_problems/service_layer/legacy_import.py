"""Importing the legacy ``problems``, ``test_cases`` and ``script_generation_jobs`` tables through
this service's own write path (problem items with their events in the outbox, test sets through
:class:`TestSetService`, jobs in their table). The rules are in :mod:`algoitny_problems.domain.legacy`;
the consuming, once-only, quarantine and pause in :mod:`algoitny_shared.legacy.row_importer`.

Test cases arrive on their own topic, in any order relative to their problem. Each is first
**staged** in the service's ``LegacyImport`` table (``TC#<legacy problem id>``; a payload over the
inline limit gzipped in the test-case bucket under ``legacy/testcases/``) together with a
``DIRTY/<legacy problem id>`` marker, in the same transaction as the row's import state. The
:class:`LegacyTestSetFlusher` then builds each marked problem's test set from its staged cases
with :meth:`TestSetService.write` (replace: a new version, big cases to S3, the old set to GC,
``TestSetReplaced`` in the outbox), so readers and the judge see whole sets only; a burst of cases
for one problem costs one set write. A problem that has not arrived yet keeps its cases staged
(park); when it arrives its import marks it again and the set is built. Cases whose problem has
not arrived after ``orphan_grace_s`` are quarantined as a broken reference, and leave the
quarantine by themselves if the problem arrives later.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from algoitny_problems.adapters.repository import ProblemRepository, problem_item
from algoitny_problems.adapters.test_cases import TestCaseStore
from algoitny_problems.domain import legacy as rules
from algoitny_problems.domain.events import problem_completed, problem_created, problem_deleted, problem_updated
from algoitny_problems.domain.models import Problem, TestSetIn
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository, job_item
from algoitny_problems.generation.domain.jobs import GenerationJob
from algoitny_problems.service_layer.test_sets import TestSetService
from algoitny_problems.service_layer.use_cases import ProblemService, envelope
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import batch_get, from_item, to_item, to_value
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.legacy.canonical import COMPARED
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.identity import legacy_ulid, legacy_uuid
from algoitny_shared.legacy.row_importer import (
    DELETED,
    IMPORTED,
    QUARANTINED,
    ImportTx,
    LegacyImporter,
    LegacyStore,
    Quarantined,
    RowState,
    row_hash,
    sort_key,
)
from algoitny_shared.legacy.rows import ProblemRow, ScriptGenerationJobRow, TestCaseRow

log = logging.getLogger(__name__)

SERVICE = "problems"
TABLES = ("problems", "test_cases", "script_generation_jobs")
DIRTY_PK = "DIRTY"
SETFP_PK = "SETFP"


def staged_pk(legacy_problem_id: int | str) -> str:
    return f"TC#{legacy_problem_id}"


def staged_s3_key(test_case_id: int | str) -> str:
    return f"legacy/testcases/{test_case_id}.json.gz"


class ProblemsLegacyHandler:
    service = SERVICE
    tables: tuple[str, ...] = TABLES

    def __init__(
        self,
        client: Any,
        repo: ProblemRepository,
        problems: ProblemService,
        store: LegacyStore,
        cases: TestCaseStore,
        jobs: GenerationJobRepository,
        control: Any,
    ) -> None:
        self._client = AsyncDynamoDB(client)
        self._repo = repo
        self._problems = problems
        self._store = store
        self._cases = cases
        self._jobs = jobs
        self._control = control

    # ------------------------------------------------------------------ apply

    def links(self, change: LegacyChange) -> list[str]:
        """Legacy problems with the same platform and number compete for one problem (the one
        imported first keeps it, the later is quarantined as a duplicate): applied in order."""
        if change.table.name != "problems" or change.deleted:
            return []
        try:
            fields, _ = rules.problem_fields(ProblemRow.model_validate(change.row))
        except Exception:
            return []  # apply quarantines it
        return [f"problem:{fields['platform']}/{fields['problem_id']}"]

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        try:
            if change.table.name == "problems":
                await self._problem(change, prior, tx)
            elif change.table.name == "test_cases":
                await self._test_case(change, prior, tx)
            else:
                await self._job(change, prior, tx)
        except rules.Refused as exc:
            raise Quarantined(str(exc)) from exc

    def _dirty(self, legacy_problem_id: int | str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._store.table,
                "Item": to_item(
                    {
                        "pk": DIRTY_PK,
                        "sk": sort_key(str(legacy_problem_id)),
                        "legacy_problem_id": str(legacy_problem_id),
                        "stamp": uuid.uuid4().hex,
                        "since": time.time(),
                    }
                ),
            }
        }

    async def _raw_problem(self, platform: str, problem_id: str) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self._repo.problems,
            Key=self._repo.key(platform, problem_id),
            ConsistentRead=True,
        )
        return from_item(resp["Item"]) if resp.get("Item") else None

    async def _problem(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        if change.deleted:
            refs = prior.refs if prior else {}
            if refs.get("platform"):
                try:
                    await self._problems.hard_delete(refs["platform"], refs["problem_id"])
                except AppError as exc:
                    if exc.code != ErrorCode.NOT_FOUND:
                        raise
            return
        row = ProblemRow.model_validate(change.row)
        fields, legacy = rules.problem_fields(row)
        platform, problem_id = fields["platform"], fields["problem_id"]
        refs = prior.refs if prior else {}
        if refs.get("platform") and (refs["platform"], refs["problem_id"]) != (platform, problem_id):
            raise Quarantined(
                f"the legacy row moved from {refs['platform']}/{refs['problem_id']} to {platform}/{problem_id}; "
                "a problem's key cannot change here"
            )
        raw = await self._raw_problem(platform, problem_id)
        if raw is not None and int((raw.get("legacy") or {}).get("id", -1)) != row.id:
            raise Quarantined(
                f"duplicate: {platform}/{problem_id} already exists on the new platform "
                f"(not imported from legacy row {row.id})"
            )
        legacy_attrs = {":lg": to_value(legacy), ":lid": {"N": str(row.id)}}
        if raw is None:
            numeric_id = int(refs.get("numeric_id") or await self._repo.allocate_id())
            after = await self._control.key_version(platform, problem_id)
            problem = rules.new_problem(
                fields,
                numeric_id=numeric_id,
                incarnation=legacy_uuid("problems", row.id).hex[:12],
                after_version=after,
            )
            item = {**problem_item(problem), "legacy": legacy, "legacy_id": row.id}
            tx.add(
                {
                    "Put": {
                        "TableName": self._repo.problems,
                        "Item": to_item(item),
                        "ConditionExpression": "attribute_not_exists(platform)",
                    }
                }
            )
            tx.add(self._repo.add_platform(platform))
            tx.add(self._control.check_key_version(platform, problem_id, after))
            tx.publish(envelope(problem_created(problem), problem, None))
            if problem.status == "deleted":
                tx.publish(envelope(problem_deleted(problem, hard=False), problem, None))
        else:
            current = Problem.model_validate(raw)
            merged = {**current.model_dump(), **fields, "version": current.version + 1, "updated_at": datetime.now(UTC)}
            problem = Problem.model_validate(merged)
            update = self._repo.update(problem, expected_version=current.version)
            body = update["Update"]
            body["UpdateExpression"] = body["UpdateExpression"].replace("SET ", "SET #lg = :lg, #lid = :lid, ", 1)
            body["ExpressionAttributeNames"].update({"#lg": "legacy", "#lid": "legacy_id"})
            body["ExpressionAttributeValues"].update(legacy_attrs)
            tx.add(update)
            if problem.status == "deleted" and current.status != "deleted":
                tx.publish(envelope(problem_deleted(problem, hard=False), problem, None))
            elif problem.status == "completed" and current.status == "draft":
                tx.publish(envelope(problem_completed(problem), problem, None))
            else:
                changed = [
                    k for k in fields if k not in ("platform", "problem_id") and getattr(current, k) != fields[k]
                ]
                tx.publish(envelope(problem_updated(problem, changed or ["legacy"]), problem, None))
            numeric_id = current.id
        tx.refs = {"platform": platform, "problem_id": problem_id, "numeric_id": numeric_id}
        tx.add(self._dirty(row.id))  # its staged test cases (if any came first) become its test set

    async def _test_case(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        old_problem = (prior.refs or {}).get("problem_id") if prior else None
        if change.deleted:
            if old_problem is not None:
                tx.add(self._unstage(old_problem, change.key))
                tx.add(self._dirty(old_problem))
            return
        row = TestCaseRow.model_validate(change.row)
        # The version staged: only a quarantine of this version (a broken reference) is lifted
        # when its problem comes; an invalid later update's stays.
        staged = {**rules.staged_case(row), "change_hash": row_hash(change)}
        size = len(row.input.encode()) + len(row.output.encode())
        if size <= self._cases.inline_max_bytes:
            staged.update({"stored": "inline", "input": row.input, "output": row.output})
        else:
            raw = json.dumps({"input": row.input, "output": row.output}, ensure_ascii=False).encode()
            body = gzip.compress(raw, compresslevel=6)
            key = staged_s3_key(row.id)
            await self._cases._s3.put_object(
                Bucket=self._cases.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ContentEncoding="gzip",
            )
            staged.update({"stored": "s3", "s3_key": key, "sha256": hashlib.sha256(raw).hexdigest(), "size": size})
        tx.add(
            {
                "Put": {
                    "TableName": self._store.table,
                    "Item": to_item({"pk": staged_pk(row.problem_id), "sk": sort_key(str(row.id)), **staged}),
                }
            }
        )
        if old_problem is not None and int(old_problem) != row.problem_id:
            tx.add(self._unstage(old_problem, change.key))
            tx.add(self._dirty(old_problem))
        tx.add(self._dirty(row.problem_id))
        tx.refs = {"problem_id": row.problem_id}

    def _unstage(self, legacy_problem_id: int | str, key: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._store.table,
                "Key": {"pk": {"S": staged_pk(legacy_problem_id)}, "sk": {"S": sort_key(key)}},
            }
        }

    async def _job(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        if change.deleted:
            job_id = (prior.refs if prior else {}).get("job_id")
            if job_id:
                tx.add({"Delete": {"TableName": self._jobs.table, "Key": {"job_id": {"S": job_id}}}})
            return
        row = ScriptGenerationJobRow.model_validate(change.row)
        if not isinstance(row.tags, list):
            raise Quarantined(f"tags is not a JSON list but {type(row.tags).__name__}")
        job_id = legacy_ulid("script_generation_jobs", row.id, int(row.created_at.timestamp() * 1000))
        job = GenerationJob(job_id=job_id, **rules.job_fields(row))
        # Kept whole on the item: exactly the columns verify compares (rules.job_columns gives them back).
        columns = row.columns()
        legacy = {name: columns[name] for name in COMPARED[("script_generation_jobs", SERVICE)]}
        legacy["created_at"] = row.created_at.isoformat()
        item = {**job_item(job), "legacy": legacy, "legacy_id": row.id}
        tx.add(
            {
                "Put": {
                    "TableName": self._jobs.table,
                    "Item": to_item(item),
                    "ConditionExpression": "attribute_not_exists(job_id) OR legacy_id = :lid",
                    "ExpressionAttributeValues": {":lid": {"N": str(row.id)}},
                }
            }
        )
        tx.refs = {"job_id": job_id}

    # ------------------------------------------------------------------ verify

    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        # The items of a page of rows read together (BatchGetItem), matched back by their keys.
        if table == "problems":
            by_key = {(s.refs["platform"], s.refs["problem_id"]): s.key for s in states}
            keys = [self._repo.key(p, i) for p, i in by_key]
            out = {}
            for raw in await batch_get(self._client, self._repo.problems, keys):
                item = from_item(raw)
                key = by_key.get((item.get("platform"), item.get("problem_id")))
                if key is not None:
                    out[key] = rules.problem_columns(item)
            return out
        if table == "test_cases":
            by_pk = {(staged_pk(s.refs["problem_id"]), sort_key(s.key)): s.key for s in states}
            keys = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in by_pk]
            staged = {}
            for raw in await batch_get(self._client, self._store.table, keys):
                item = from_item(raw)
                key = by_pk.get((item["pk"], item["sk"]))
                if key is not None:
                    staged[key] = item
            payloads = await asyncio.gather(*(self.payload(item) for item in staged.values()))
            return {
                key: rules.test_case_columns(item, payload)
                for (key, item), payload in zip(staged.items(), payloads, strict=True)
            }
        by_job = {s.refs["job_id"]: s.key for s in states}
        out = {}
        for raw in await batch_get(self._client, self._jobs.table, [{"job_id": {"S": j}} for j in by_job]):
            item = from_item(raw)
            if item.get("job_id") in by_job:
                out[by_job[item["job_id"]]] = rules.job_columns(item["legacy"])
        return out

    # ------------------------------------------------------------------ staged cases

    async def staged(self, legacy_problem_id: int | str, key: str) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self._store.table,
            Key={"pk": {"S": staged_pk(legacy_problem_id)}, "sk": {"S": sort_key(key)}},
            ConsistentRead=True,
        )
        return from_item(resp["Item"]) if resp.get("Item") else None

    async def staged_cases(self, legacy_problem_id: int | str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self._store.table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": staged_pk(legacy_problem_id)}},
                "ConsistentRead": True,
            }
            if start:
                request["ExclusiveStartKey"] = start
            resp = await self._client.query(**request)
            items.extend(from_item(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                return items

    async def payload(self, staged: dict[str, Any]) -> tuple[str, str]:
        if staged.get("stored") != "s3":
            return str(staged["input"]), str(staged["output"])
        raw = gzip.decompress(await self._cases._s3.get_bytes(Bucket=self._cases.bucket, Key=staged["s3_key"]))
        if hashlib.sha256(raw).hexdigest() != staged["sha256"]:
            raise RuntimeError(f"staged legacy test case {staged['id']} does not match its checksum")
        data = json.loads(raw)
        return str(data["input"]), str(data["output"])


class LegacyTestSetFlusher:
    """Builds the test sets of problems whose legacy cases changed (see the module's description)."""

    __test__ = False

    def __init__(
        self,
        client: Any,
        handler: ProblemsLegacyHandler,
        importer: LegacyImporter,
        test_sets: TestSetService,
        repo: ProblemRepository,
        *,
        interval_s: float,
        orphan_grace_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = AsyncDynamoDB(client)
        self._handler = handler
        self._importer = importer
        self._store = importer.store
        self._test_sets = test_sets
        self._repo = repo
        self._interval = interval_s
        self._grace = orphan_grace_s
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                busy = await self.flush_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("legacy test-set flush failed; retrying")
                busy = 0
            if not busy:
                await asyncio.sleep(self._interval)

    async def markers(self, limit: int = 50) -> list[dict[str, Any]]:
        resp = await self._client.query(
            TableName=self._store.table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": DIRTY_PK}},
            ConsistentRead=True,
            Limit=limit,
        )
        return [from_item(i) for i in resp.get("Items", [])]

    async def flush_once(self, concurrency: int = 8) -> int:
        """One pass over the marked problems, several at a time (each problem's set is its own);
        returns how many were settled (set built or dropped)."""
        await self._importer.wait_while_paused()
        gate = asyncio.Semaphore(concurrency)

        async def one(marker: dict[str, Any]) -> bool:
            async with gate:
                return await self.flush(marker)

        done = await asyncio.gather(*(one(m) for m in await self.markers()))
        return sum(1 for d in done if d)

    async def flush(self, marker: dict[str, Any]) -> bool:
        legacy_id = str(marker["legacy_problem_id"])
        state = await self._store.get_state("problems", legacy_id)
        staged = await self._handler.staged_cases(legacy_id)
        if state is None or state.status == QUARANTINED:
            if self._clock() - float(marker["since"]) >= self._grace and not marker.get("orphaned"):
                why = "has not arrived" if state is None else "is quarantined"
                for case in staged:
                    await self._importer.mark(
                        "test_cases",
                        str(case["id"]),
                        QUARANTINED,
                        only_from=IMPORTED,
                        reason=f"broken reference: problem {legacy_id} {why} (kept staged; imported when it comes)",
                        row={"id": case["id"], "problem_id": case["problem_id"], "created_at": case["created_at"]},
                    )
                await self._mark_orphaned(marker)
            return False
        if state.status != DELETED:
            await self._build(state, staged)
        cases = await self._store.get_states("test_cases", [str(case["id"]) for case in staged])
        for case in staged:  # out of the quarantine of a broken reference, if they were in it
            if (known := cases.get(str(case["id"]))) is not None and known.status == QUARANTINED:
                # Only the version staged (cases staged before it was kept carry none: any version).
                await self._importer.mark(
                    "test_cases", str(case["id"]), IMPORTED, only_from=QUARANTINED, only_hash=case.get("change_hash")
                )
        await self._clear(marker)
        return True

    async def _build(self, state: RowState, staged: list[dict[str, Any]]) -> None:
        platform, problem_id = state.refs["platform"], state.refs["problem_id"]
        problem = await self._repo.get(platform, problem_id, consistent=True)
        if problem is None or problem.status == "deleted" or not staged:
            # A deleted legacy problem keeps its cases staged (verify reads them) but gets no new set;
            # a problem whose legacy cases were all deleted keeps its last set (a set is never empty).
            return
        rows = []
        for case in staged:
            case_input, case_output = await self._handler.payload(case)
            rows.append({**case, "input": case_input, "output": case_output})
        body = TestSetIn(test_cases=rules.ordered_cases(rows))
        fingerprint = body.fingerprint("replace")
        seen = await self._client.get_item(
            TableName=self._store.table,
            Key={"pk": {"S": SETFP_PK}, "sk": {"S": sort_key(state.key)}},
            ConsistentRead=True,
        )
        done = from_item(seen["Item"]) if seen.get("Item") else {}
        if done.get("fingerprint") == fingerprint and int(done.get("version", -1)) == problem.test_set_version:
            return  # this very set is already the problem's current one
        result = await self._test_sets.write(platform, problem_id, body, "replace")
        await self._client.put_item(
            TableName=self._store.table,
            Item=to_item(
                {
                    "pk": SETFP_PK,
                    "sk": sort_key(state.key),
                    "fingerprint": fingerprint,
                    "version": result.test_set_version,
                }
            ),
        )

    async def _clear(self, marker: dict[str, Any]) -> None:
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            # Marked again meanwhile when it fails: the next pass builds the newer set.
            await self._client.delete_item(
                TableName=self._store.table,
                Key={"pk": {"S": DIRTY_PK}, "sk": {"S": marker["sk"]}},
                ConditionExpression="stamp = :s",
                ExpressionAttributeValues={":s": {"S": marker["stamp"]}},
            )

    async def _mark_orphaned(self, marker: dict[str, Any]) -> None:
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            await self._client.update_item(
                TableName=self._store.table,
                Key={"pk": {"S": DIRTY_PK}, "sk": {"S": marker["sk"]}},
                UpdateExpression="SET orphaned = :t",
                ConditionExpression="stamp = :s",
                ExpressionAttributeValues={":s": {"S": marker["stamp"]}, ":t": {"BOOL": True}},
            )
