"""The generated AsyncAPI document covers every topic and event and matches what is published."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from algoitny_shared import asyncapi, kafka
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    ChargeRef,
    ExecutionCompleted,
    ExecutionSubmitted,
    ExecutionVisibilityChanged,
    GeneratedHint,
    GenerationJobCancelled,
    GenerationJobCreated,
    GenerationJobFailed,
    GenerationJobProgressed,
    GenerationJobSucceeded,
    HintGenerated,
    HintRequested,
    MigrationPhaseChanged,
    PlanCreated,
    PlanDeleted,
    PlanUpdated,
    ProblemCompleted,
    ProblemCreated,
    ProblemDeleted,
    ProblemJudgeFailed,
    ProblemUpdated,
    SandboxLimits,
    SandboxRunCompleted,
    SandboxRunRequested,
    SessionRevoked,
    TestSetReplaced,
    UsageConsumed,
    UsageRefunded,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
    UserRoleChanged,
    UserSessionsRevoked,
)
from algoitny_shared.topics import CONSUMER_GROUPS, all_topics, dead_letter_topic

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

_SNAP: dict[str, Any] = {
    "platform": "baekjoon",
    "problem_id": "1000",
    "title": "A+B",
    "status": "completed",
    "test_case_count": 3,
    "created_at": NOW,
    "updated_at": NOW,
}
SAMPLES: dict[str, tuple[BaseModel, str]] = {
    "problems.ProblemCreated": (
        ProblemCreated(
            platform="baekjoon",
            problem_id="1000",
            title="A+B",
            url="https://www.acmicpc.net/problem/1000",
            tags=["math", "implementation"],
            language="python",
            status="completed",
            difficulty="bronze",
            test_case_count=3,
            created_at=NOW,
            updated_at=NOW,
        ),
        "baekjoon#1000",
    ),
    "problems.ProblemUpdated": (
        ProblemUpdated(**_SNAP, changed=["title"]),
        "baekjoon/1000",
    ),
    "problems.ProblemCompleted": (ProblemCompleted(**_SNAP), "baekjoon/1000"),
    "problems.ProblemDeleted": (
        ProblemDeleted(**{**_SNAP, "status": "deleted"}, hard=True, deleted_at=NOW),
        "baekjoon/1000",
    ),
    "problems.TestSetReplaced": (
        TestSetReplaced(**_SNAP, test_set_version=2, mode="replace"),
        "baekjoon/1000",
    ),
    "migration.MigrationPhaseChanged": (
        MigrationPhaseChanged(
            phase="cut_over",
            previous_phase="migrating",
            writes_open=True,
            version=2,
            command="cutover",
            changed_by="operator",
            changed_at=NOW,
            note="every gate passed",
        ),
        "migration",
    ),
    "executions.ProblemJudgeFailed": (
        ProblemJudgeFailed(
            execution_id="e-1",
            platform="codeforces",
            problem_id="1A",
            program="checker",
            detail="the checker was killed by SIGSEGV",
            programs_version="0123456789abcdef.-",
            failed_at=NOW,
        ),
        "e-1",
    ),
    "executions.ExecutionVisibilityChanged": (
        ExecutionVisibilityChanged(
            execution_id="e-1", user_id="u-123", public=True, changed_by="u-123", changed_at=NOW
        ),
        "e-1",
    ),
    "executions.ExecutionCompleted": (
        ExecutionCompleted(
            execution_id="e-1",
            user_id="u-123",
            platform="baekjoon",
            problem_id="1000",
            language="python",
            verdict="accepted",
            test_set_version=2,
            passed_count=3,
            total_count=3,
            completed_at=NOW,
            public=True,
            max_time_ms=3,
            max_memory_kb=3000,
            charge=ChargeRef(request_id="r-123456", day="2026-01-01"),
            submitted_at=NOW,
            judge_ms=150,
        ),
        "e-1",
    ),
    "hints.HintRequested": (
        HintRequested(
            request_id="req-12345678",
            kind="execution",
            execution_id="e-1",
            platform="baekjoon",
            problem_id="1000",
            user_id="u-123",
            charge_key="req-12345678",
            charge_day="2026-01-02",
            requested_at=NOW,
        ),
        "req-12345678",
    ),
    "hints.HintGenerated": (
        HintGenerated(
            request_id="req-12345678",
            kind="execution",
            execution_id="e-1",
            platform="baekjoon",
            problem_id="1000",
            user_id="u-123",
            source="fallback",
            hints=[GeneratedHint(level=1, title="Large values", text="Use 64-bit integers.")],
            generated_at=NOW,
        ),
        "req-12345678",
    ),
    "accounts.UserRegistered": (
        UserRegistered(user_id="u-123", role="user", plan_id="free", registered_at=NOW),
        "u-123",
    ),
    **{
        f"ratelimit.{cls.__name__}": (
            cls(
                plan_id="pro",
                name="Pro",
                daily_limits={"execution": 200, "hint": 30},
                may_register_problems=False,
                may_view_all_problems=True,
                max_registered_problems=0,
                active=True,
            ),
            "pro",
        )
        for cls in (PlanCreated, PlanUpdated)
    },
    "ratelimit.PlanDeleted": (PlanDeleted(plan_id="old"), "old"),
    "ratelimit.UsageConsumed": (
        UsageConsumed(
            user_id="u-1", action="execution", request_id="r-123456", day="2026-01-01", at=NOW, plan_id="free"
        ),
        "u-1/execution/r-123456",
    ),
    "executions.ExecutionSubmitted": (
        ExecutionSubmitted(
            execution_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
            user_id="u-1",
            platform="baekjoon",
            problem_id="1000",
            language="cpp17",
            public=True,
            test_set_version=2,
            time_limit_ms=1000,
            memory_limit_mb=256,
            charge=ChargeRef(request_id="r-123456", day="2026-01-01"),
            submitted_at=NOW,
        ),
        "01JABCDEFGHJKMNPQRSTVWXYZ0",
    ),
    "ratelimit.UsageRefunded": (
        UsageRefunded(user_id="u-1", action="execution", request_id="r-123456", day="2026-01-01", at=NOW, reason="IE"),
        "u-1/execution/r-123456",
    ),
    "accounts.UserPlanChanged": (
        UserPlanChanged(user_id="u-123", plan_id="pro", previous_plan_id="free", changed_by="u-9", changed_at=NOW),
        "u-123",
    ),
    "accounts.UserRoleChanged": (
        UserRoleChanged(user_id="u-123", role="admin", previous_role="user", changed_at=NOW),
        "u-123",
    ),
    "accounts.UserDeactivated": (UserDeactivated(user_id="u-123", deactivated_by="u-9", deactivated_at=NOW), "u-123"),
    "accounts.UserReactivated": (UserReactivated(user_id="u-123", reactivated_at=NOW), "u-123"),
    "accounts.UserSessionsRevoked": (
        UserSessionsRevoked(user_id="u-123", reason="verified_owner_linked", revoked_at=NOW),
        "u-123",
    ),
    "executions.SandboxRunRequested": (
        SandboxRunRequested(
            run_id="01JOB-gen-3-0",
            requester="problems",
            language="python3",
            input_count=50,
            request_key="requests/01JOB-gen-3-0.json.gz",
            limits=SandboxLimits(time_limit_ms=1000, memory_limit_mb=256, output_limit_kb=4096),
            requested_at=NOW,
        ),
        "01JOB-gen-3-0",
    ),
    "executions.SandboxRunCompleted": (
        SandboxRunCompleted(
            run_id="01JOB-gen-3-0",
            requester="problems",
            verdict="AC",
            result_key="results/01JOB-gen-3-0.json.gz",
            completed_at=NOW,
        ),
        "01JOB-gen-3-0",
    ),
    "problems.GenerationJobCreated": (
        GenerationJobCreated(
            job_id="01JOB",
            platform="baekjoon",
            problem_id="1000",
            status="pending",
            total=200,
            updated_at=NOW,
            generator_source="registrar",
            generator_language="python3",
            counts={"small": 50, "medium": 50, "large": 50, "max": 50},
            seed=42,
            created_by="u-9",
        ),
        "01JOB",
    ),
    "problems.GenerationJobProgressed": (
        GenerationJobProgressed(
            job_id="01JOB", platform="baekjoon", problem_id="1000", status="running", total=200, done=50, updated_at=NOW
        ),
        "01JOB",
    ),
    "problems.GenerationJobSucceeded": (
        GenerationJobSucceeded(
            job_id="01JOB",
            platform="baekjoon",
            problem_id="1000",
            status="succeeded",
            total=200,
            done=200,
            updated_at=NOW,
            test_set_version=4,
            test_case_count=202,
        ),
        "01JOB",
    ),
    "problems.GenerationJobFailed": (
        GenerationJobFailed(
            job_id="01JOB",
            platform="baekjoon",
            problem_id="1000",
            status="failed",
            total=200,
            updated_at=NOW,
            error="the generator exceeded its time limit on case 0",
        ),
        "01JOB",
    ),
    "problems.GenerationJobCancelled": (
        GenerationJobCancelled(
            job_id="01JOB",
            platform="baekjoon",
            problem_id="1000",
            status="cancelled",
            total=200,
            updated_at=NOW,
            cancelled_by="u-9",
        ),
        "01JOB",
    ),
    "accounts.SessionRevoked": (
        SessionRevoked(user_id="u-123", session_id="5f0c2a9e", reason="logout", revoked_at=NOW),
        "5f0c2a9e",
    ),
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return asyncapi.build_document()


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _sample_envelope(event_type: str) -> EventEnvelope:
    payload, aggregate_id = SAMPLES[event_type]
    return REGISTRY.envelope(
        payload,
        producer=event_type.split(".", 1)[0],
        aggregate_id=aggregate_id,
        aggregate_version=1,
        trace_id="trace-1",
    )


def _validate(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    # Refs point at #/components/schemas/..., so validate inside a root that has them.
    root = {**schema, "components": doc["components"]}
    jsonschema.Draft7Validator(root, format_checker=jsonschema.FormatChecker()).validate(instance)


def test_document_is_asyncapi_3(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "AlgoItny events"
    assert {"local", "production"} <= set(doc["servers"])
    assert doc["servers"]["local"] == {**doc["servers"]["local"], "host": "127.0.0.1:9092", "protocol": "kafka"}


def test_every_topic_has_a_channel_with_its_address(doc: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in doc["channels"].values()}
    for topic in all_topics():
        assert topic.physical("{namespace}") in addresses, topic.name


def test_every_event_is_a_message_of_its_topic_channel(doc: dict[str, Any]) -> None:
    specs = list(REGISTRY)
    assert specs, "the registry is empty"
    for spec in specs:
        address = spec.topic.physical("{namespace}")
        [channel] = [c for c in doc["channels"].values() if c["address"] == address]
        ref = channel["messages"][spec.event_type]["$ref"]
        message = _resolve(doc, ref)
        assert message["name"] == spec.event_type
        assert message["contentType"] == "application/json"
        payload = message["payload"]
        assert payload["properties"]["event_type"]["const"] == spec.event_type
        assert payload["properties"]["schema_version"]["const"] == spec.schema_version
        expected = spec.payload_model.model_json_schema(ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)  # hoisted into components.schemas
        assert _resolve(doc, payload["properties"]["payload"]["$ref"]) == expected
        # The producer publishes it, and subscribers of the topic can receive it.
        producer = spec.event_type.split(".", 1)[0]
        send = doc["operations"][f"send.{spec.event_type}"]
        assert send["action"] == "send"
        assert {"name": f"producer:{producer}"} in send["tags"]
        receivers = [
            op
            for op in doc["operations"].values()
            if op["action"] == "receive" and _resolve(doc, op["channel"]["$ref"]) is channel
        ]
        assert receivers, f"no receive operation for {spec.topic.name}"
        for op in [send, *receivers]:
            assert any(_resolve(doc, m["$ref"]) is channel["messages"][spec.event_type] for m in op["messages"])


def test_addresses_use_a_given_namespace() -> None:
    doc = asyncapi.build_document("prod")
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {topic.physical("prod") for topic in all_topics()}
    assert all("parameters" not in channel for channel in doc["channels"].values())


def test_every_message_schema_validates_a_real_envelope(doc: dict[str, Any]) -> None:
    assert set(SAMPLES) == {spec.event_type for spec in REGISTRY}, "add a sample for each new event type"
    for spec in REGISTRY:
        message = doc["components"]["messages"][spec.event_type]
        envelope = _sample_envelope(spec.event_type)
        _validate(doc, message["payload"], envelope.model_dump(mode="json"))
        headers = {
            "content-type": "application/json",
            "event-type": envelope.event_type,
            "event-id": str(envelope.event_id),
            "schema-version": str(envelope.schema_version),
        }
        _validate(doc, message["headers"], headers)


def test_message_schema_rejects_another_event_type(doc: dict[str, Any]) -> None:
    envelope = _sample_envelope("problems.ProblemCreated").model_dump(mode="json")
    messages = doc["components"]["messages"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc, messages["accounts.UserRegistered"]["payload"], envelope)
    # The envelope is closed; a payload missing a required field is invalid too.
    schema = messages["problems.ProblemCreated"]["payload"]
    _validate(doc, schema, {**envelope, "event_id": str(uuid.uuid4())})
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc, schema, {**envelope, "unexpected": 1})
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc, schema, {**envelope, "payload": {k: v for k, v in envelope["payload"].items() if k != "title"}})


def test_dead_letter_channels_document_every_dlq_header(doc: dict[str, Any]) -> None:
    # Every x-dlq-* header kafka.py writes is listed in DLQ_HEADERS, hence documented.
    written = set(re.findall(r'"(x-dlq-[a-z-]+)"', Path(kafka.__file__).read_text()))
    assert written == set(kafka.DLQ_HEADERS)
    for group in CONSUMER_GROUPS:
        topic = dead_letter_topic(group)
        [channel] = [c for c in doc["channels"].values() if c["address"] == topic.physical("{namespace}")]
        [ref] = [m["$ref"] for m in channel["messages"].values()]
        headers = _resolve(doc, ref)["headers"]
        assert set(kafka.DLQ_HEADERS) <= set(headers["properties"])
        assert set(headers["required"]) == set(kafka.DLQ_HEADERS)


def test_all_refs_resolve(doc: dict[str, Any]) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                _resolve(doc, node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)


def test_build_is_deterministic() -> None:
    assert asyncapi.render(asyncapi.build_document()) == asyncapi.render(asyncapi.build_document())


def test_committed_document_is_up_to_date() -> None:
    fresh = asyncapi.render(asyncapi.build_document(), "yaml")
    assert COMMITTED.exists(), "docs/asyncapi.yaml is missing: run `make docs`"
    assert COMMITTED.read_text(encoding="utf-8") == fresh, (
        "docs/asyncapi.yaml is stale: run `make docs` "
        "(python -m algoitny_shared.asyncapi --out docs/asyncapi.yaml) and commit the result"
    )


def test_main_writes_yaml_and_json(tmp_path: Path) -> None:
    import json

    import yaml

    assert asyncapi.main(["--out", str(tmp_path / "a.yaml")]) == 0
    assert asyncapi.main(["--out", str(tmp_path / "a.json")]) == 0
    from_yaml = yaml.safe_load((tmp_path / "a.yaml").read_text(encoding="utf-8"))
    from_json = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert from_yaml == from_json == asyncapi.build_document()
