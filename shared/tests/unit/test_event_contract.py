"""The event contract: docs/events and the client models follow the registry, and the
compatibility check (make events-check) refuses breaking changes to an existing version.

The scenarios the issue names run on a copy of the shared library and of docs/events, through
the real command (``python -m algoitny_shared.event_contract``), with the copy's catalogue
edited: a removed field fails, an added optional field passes, and a breaking change registered
as a new version with an upcaster passes (the old version's file stays, its example upcasts)."""

from __future__ import annotations

import enum
import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from algoitny_shared import event_contract as contract
from algoitny_shared.events import REGISTRY, EventEnvelope, EventRegistry
from algoitny_shared.topics import ACCOUNT_EVENTS, EXECUTION_EVENTS

REPO = Path(__file__).resolve().parents[3]
CATALOG = "algoitny_shared/events/catalog.py"


def test_docs_events_and_the_client_models_are_up_to_date_and_compatible() -> None:
    report = contract.check(REGISTRY, REPO / contract.DOCS_DIR, REPO / contract.CLIENT_MODULE)
    assert report.errors == []
    assert report.stale == [], "run `make events`"


def test_every_type_and_version_has_a_schema_file_with_a_valid_example() -> None:
    from jsonschema import Draft202012Validator

    for spec in REGISTRY:
        path = REPO / contract.DOCS_DIR / contract.file_name(spec.event_type, spec.schema_version)
        document = json.loads(path.read_text())
        Draft202012Validator.check_schema(document)
        validator = Draft202012Validator(document)
        (example,) = document["examples"]
        assert list(validator.iter_errors(example)) == [], spec.event_type
        assert document["x-topic"] == spec.topic.name
        spec.payload_model.model_validate(example["payload"])
        # the schema really constrains: a payload without its required fields is refused
        required = document["$defs"][spec.payload_model.__name__].get("required", [])
        if required:
            broken = {**example, "payload": {k: v for k, v in example["payload"].items() if k != required[0]}}
            assert list(validator.iter_errors(broken)), spec.event_type


# -- the rules, on a scratch registry -----------------------------------------------------------


class _P(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _registry(model: type[BaseModel], version: int = 1, topic: Any = ACCOUNT_EVENTS) -> EventRegistry:
    registry = EventRegistry()
    registry.register("test.Thing", version=version, topic=topic, aggregate_type="thing")(model)
    return registry


class ThingV1(_P):
    thing_id: str
    size: int
    note: str | None = None
    at: datetime


def _baseline(tmp_path: Path) -> Path:
    docs = tmp_path / "events"
    assert contract.write(_registry(ThingV1), docs, None) == []
    return docs


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"thing_id": str, "note": str | None, "at": datetime}, "size: field removed"),
        ({"thing_id": str, "size": str, "note": str | None, "at": datetime}, "size: retyped"),
        ({"thing_id": str, "size": int | None, "note": str | None, "at": datetime}, "size: retyped"),
        ({"thing_id": str, "size": int, "note": str, "at": datetime}, "note: retyped"),
        ({"thing_id": str, "size": int, "note": str | None, "at": datetime, "colour": str}, "colour: new required"),
    ],
)
def test_breaking_changes_are_refused(tmp_path: Path, fields: dict[str, Any], expected: str) -> None:
    docs = _baseline(tmp_path)
    before = {p.name: p.read_text() for p in docs.iterdir()}
    annotations = dict(fields)
    defaults = {"note": None} if fields.get("note") == str | None else {}
    changed = type("ThingV1", (_P,), {"__annotations__": annotations, **defaults})
    registry = _registry(changed)
    errors = contract.write(registry, docs, None)
    assert errors and expected in errors[0], errors
    assert "Register it as v2 with an upcaster" in errors[0]
    assert {p.name: p.read_text() for p in docs.iterdir()} == before  # nothing written
    assert not contract.check(registry, docs, None).ok


def test_an_added_optional_field_is_compatible(tmp_path: Path) -> None:
    docs = _baseline(tmp_path)

    class ThingV1(_P):  # same name, one optional field more
        thing_id: str
        size: int
        note: str | None = None
        at: datetime
        colour: str | None = None

    registry = _registry(ThingV1)
    assert not contract.check(registry, docs, None).ok  # out of date until regenerated
    assert contract.check(registry, docs, None).errors == []
    assert contract.write(registry, docs, None) == []
    assert contract.check(registry, docs, None).ok


def test_moving_a_type_to_another_topic_is_breaking(tmp_path: Path) -> None:
    docs = _baseline(tmp_path)
    errors = contract.check(_registry(ThingV1, topic=EXECUTION_EVENTS), docs, None).errors
    assert errors and "x-topic changed" in errors[0]


def test_a_new_version_needs_an_upcaster_and_the_old_example_must_upcast(tmp_path: Path) -> None:
    docs = _baseline(tmp_path)

    class ThingV2(_P):
        thing_id: str
        size_bytes: int
        at: datetime

    registry = _registry(ThingV2, version=2)
    assert any("no upcaster from v1" in e for e in contract.check(registry, docs, None).errors)

    def wrong(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    registry.upcaster("test.Thing", from_version=1)(wrong)
    errors = contract.check(registry, docs, None).errors
    assert any("does not upcast to v2" in e for e in errors), errors

    def to_bytes(payload: dict[str, Any]) -> dict[str, Any]:
        payload["size_bytes"] = payload.pop("size") * 1024
        payload.pop("note", None)
        return payload

    registry = _registry(ThingV2, version=2)
    registry.upcaster("test.Thing", from_version=1)(to_bytes)
    assert contract.write(registry, docs, None) == []
    assert (docs / "test.Thing.v1.json").exists() and (docs / "test.Thing.v2.json").exists()
    assert contract.check(registry, docs, None).ok
    assert registry.upcast("test.Thing", 1, {"thing_id": "t", "size": 2, "at": "2026-01-01T00:00:00Z"}) == {
        "thing_id": "t",
        "size_bytes": 2048,
        "at": "2026-01-01T00:00:00Z",
    }
    # the platform's own consumers decode a v1 envelope into the v2 model
    old = EventEnvelope(
        event_type="test.Thing",
        schema_version=1,
        producer="test",
        aggregate_type="thing",
        aggregate_id="t",
        aggregate_version=1,
        payload={"thing_id": "t", "size": 3, "at": "2026-01-01T00:00:00Z"},
    )
    decoded = registry.decode(old)
    assert isinstance(decoded, ThingV2) and decoded.size_bytes == 3072
    # the client gets the upcaster's own source, usable without the shared library
    source = contract.client_source(registry)
    namespace: dict[str, Any] = {}
    exec(compile(source, "generated", "exec"), namespace)
    assert namespace["UPCASTERS"][("test.Thing", 1)]({"thing_id": "t", "size": 1, "at": "x"})["size_bytes"] == 1024
    assert namespace["EVENT_TYPES"]["test.Thing"][0] == 2


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Part(_P):
    """A nested model."""

    name: str
    weight: float | None = None


class Rich(_P):
    """Every construct the generator renders."""

    rich_id: str = Field(min_length=1, max_length=10, description="the id")
    count: int = Field(0, ge=0)
    colour: Colour = Colour.RED
    mode: Literal["a", "b"] = "a"
    parts: list[Part] = Field(default_factory=list)
    main_part: Part | None = None
    limits: dict[str, int] = Field(default_factory=dict)
    tags: tuple[str, ...] = Field(default_factory=lambda: ("x",))
    day: date
    at: datetime


def test_the_generated_client_models_have_the_same_json_schemas() -> None:
    registry = _registry(Rich)
    namespace: dict[str, Any] = {}
    exec(compile(contract.client_source(registry), "generated", "exec"), namespace)
    for name, model in (("Rich", Rich), ("Part", Part)):
        namespace[name].model_rebuild(_types_namespace=namespace)
        assert namespace[name].model_json_schema() == model.model_json_schema(), name
    example = contract.example_payload(Rich)
    assert namespace["Rich"].model_validate(example).model_dump(mode="json") == example
    assert example["colour"] == "red" and example["parts"][0]["name"]


def test_an_upcaster_using_anything_but_builtins_is_refused() -> None:
    registry = _registry(ThingV1, version=2)

    @registry.upcaster("test.Thing", from_version=1)
    def uses_json(payload: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(payload))

    with pytest.raises(ValueError, match="only builtins"):
        contract.client_source(registry)


def test_a_removed_event_type_or_a_lower_version_fails(tmp_path: Path) -> None:
    docs = _baseline(tmp_path)
    registry = EventRegistry()
    assert any("removed from the registry" in e for e in contract.check(registry, docs, None).errors)
    shutil.copy(docs / "test.Thing.v1.json", docs / "test.Thing.v2.json")
    assert any("registry is at v1" in e for e in contract.check(_registry(ThingV1), docs, None).errors)


def test_the_check_against_a_git_ref_sees_a_regenerated_breaking_change(tmp_path: Path) -> None:
    """A breaking change whose files were regenerated by hand is caught against the base commit."""
    docs = _baseline(tmp_path)
    base = {p.name: p.read_text() for p in docs.iterdir()}

    class ThingV1(_P):
        thing_id: str
        at: datetime

    registry = _registry(ThingV1)
    for name, text in contract.expected_files(registry).items():  # as if written by hand
        (docs / name).write_text(text)
    assert contract.check(registry, docs, None).ok
    report = contract.check(registry, docs, None, against={"main:docs/events": base})
    assert any("size: field removed" in e for e in report.errors)


# -- the real command on a copy of the repository's contract ------------------------------------


def _copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shutil.copytree(REPO / "shared" / "algoitny_shared", tmp_path / "shared" / "algoitny_shared")
    shutil.copytree(REPO / "docs" / "events", tmp_path / "docs" / "events")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shared")}
    return tmp_path, env


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "algoitny_shared.event_contract", *args, "--docs", "docs/events", "--no-client"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _edit_catalog(root: Path, old: str, new: str) -> None:
    path = root / "shared" / CATALOG
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_on_a_copy_a_removed_field_fails_and_an_added_optional_field_passes(tmp_path: Path) -> None:
    root, env = _copy(tmp_path)
    ok = _run(root, env, "check")
    assert ok.returncode == 0, ok.stderr
    assert str(root / "shared") in _run_python(root, env, "import algoitny_shared; print(algoitny_shared.__file__)")

    # breaking: UserRegistered loses ``method``
    _edit_catalog(root, '    registered_at: datetime\n    method: str = "password"\n', "    registered_at: datetime\n")
    broken = _run(root, env, "check")
    assert broken.returncode == 1
    assert "accounts.UserRegistered v1: not backward compatible" in broken.stderr
    assert "method: field removed" in broken.stderr
    refused = _run(root, env, "write")
    assert refused.returncode == 1 and "BREAKING" in refused.stderr
    assert (root / "docs/events/accounts.UserRegistered.v1.json").read_text() == (
        REPO / "docs/events/accounts.UserRegistered.v1.json"
    ).read_text()

    # compatible: the field back, plus an optional one
    _edit_catalog(
        root,
        "    registered_at: datetime\n",
        '    registered_at: datetime\n    method: str = "password"\n    referrer: str | None = None\n',
    )
    stale = _run(root, env, "check")
    assert stale.returncode == 1 and "BREAKING" not in stale.stderr and "OUT OF DATE" in stale.stderr
    written = _run(root, env, "write")
    assert written.returncode == 0, written.stderr
    passed = _run(root, env, "check")
    assert passed.returncode == 0, passed.stderr
    schema = json.loads((root / "docs/events/accounts.UserRegistered.v1.json").read_text())
    assert "referrer" in schema["$defs"]["UserRegistered"]["properties"]


def test_on_a_copy_a_breaking_change_passes_as_a_new_version_with_an_upcaster(tmp_path: Path) -> None:
    root, env = _copy(tmp_path)
    _edit_catalog(
        root,
        '@REGISTRY.register("accounts.UserRegistered", version=1,',
        '@REGISTRY.upcaster("accounts.UserRegistered", from_version=1)\n'
        "def _user_registered_v1(payload):\n"
        '    payload["sign_up_method"] = payload.pop("method", "password")\n'
        "    return payload\n\n\n"
        '@REGISTRY.register("accounts.UserRegistered", version=2,',
    )
    _edit_catalog(root, '    method: str = "password"\n', '    sign_up_method: str = "password"\n')
    written = _run(root, env, "write")
    assert written.returncode == 0, written.stderr
    assert (root / "docs/events/accounts.UserRegistered.v1.json").exists()
    assert (root / "docs/events/accounts.UserRegistered.v2.json").exists()
    passed = _run(root, env, "check")
    assert passed.returncode == 0, passed.stderr


def _run_python(root: Path, env: dict[str, str], code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout
