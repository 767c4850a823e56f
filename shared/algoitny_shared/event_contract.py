"""The published event contract, generated from the registry: one JSON Schema file per event
type and version under ``docs/events/`` (with an example), the typed models of the outside
client (``clients/events/algoitny_events/_generated.py``), and the compatibility check.

    python -m algoitny_shared.event_contract write    # make events (also part of make docs)
    python -m algoitny_shared.event_contract check    # make events-check (in make test / CI)

Rules (see docs/event-consumers.md, "Versioning"):

* a version's schema file, once written, only ever changes compatibly: a field may be added if
  it is optional; removing a field, changing its type (nullability and allowed values included),
  adding a required field or making an optional one required, and moving a type to another
  topic or aggregate are breaking. ``write`` refuses to write a breaking change and ``check``
  fails on one, whether the model changed without regenerating or the file was regenerated;
* a breaking change is registered as the next version with an upcaster from the previous one
  (``REGISTRY.upcaster``); the older version's file stays as it is, and ``check`` runs its
  example through the upcasters and validates the result against the current model;
* the generated files must be up to date (``check`` fails with "run make events" otherwise).

With ``--against <git ref>`` the check also compares with the files at that commit (e.g. the
target branch in CI), so a regenerated or deleted file cannot hide a breaking change.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import enum
import inspect
import json
import re
import subprocess
import sys
import textwrap
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from algoitny_shared.events import REGISTRY, EventEnvelope, EventRegistry, EventSpec

REPO = Path(__file__).resolve().parents[2]
DOCS_DIR = Path("docs/events")
CLIENT_MODULE = Path("clients/events/algoitny_events/_generated.py")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXAMPLE_TIME = "2026-01-01T12:00:00Z"
# Keys that describe a schema without constraining it: changing them is always compatible.
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly"})
_FILE_RE = re.compile(r"^(?P<type>[A-Za-z0-9_.]+)\.v(?P<version>[1-9][0-9]*)\.json$")


def file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


# -- examples -----------------------------------------------------------------------------------

_STRING_EXAMPLES = {
    "platform": "codeforces",
    "language": "python3",
    "verdict": "AC",
    "plan_id": "free",
    "previous_plan_id": "free",
    "role": "user",
    "previous_role": "user",
    "kind": "execution",
    "action": "hint",
    "status": "completed",
    "mode": "replace",
    "method": "password",
    "checker": "tokens",
    "source": "gemini",
}


def _example_value(annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _example_value(args[0], name)
    if origin in (typing.Union, types.UnionType):
        return _example_value(next(a for a in args if a is not type(None)), name)
    if origin is typing.Literal:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if origin in (list, set, frozenset, tuple):
        return [_example_value(args[0] if args else str, name)]
    if origin is dict:
        return {"key": _example_value(args[1] if len(args) > 1 else str, name)}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example_payload(annotation)
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if annotation is datetime:
        return EXAMPLE_TIME
    if annotation is date:
        return EXAMPLE_TIME[:10]
    if annotation is uuid.UUID:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    if annotation is str:
        if name in _STRING_EXAMPLES:
            return _STRING_EXAMPLES[name]
        if name == "day" or name.endswith("_day"):
            return EXAMPLE_TIME[:10]
        if name.endswith("_id") or name.endswith("_key"):
            return f"{name.rsplit('_', 1)[0]}-1"
        return f"example {name.replace('_', ' ')}"
    if annotation is Any:
        return "example"
    raise TypeError(f"no example for field {name!r} of type {annotation!r}")


def example_payload(model: type[BaseModel]) -> dict[str, Any]:
    """Every field filled (optional ones too, to show their shape), valid for ``model``."""
    raw = {name: _example_value(info.annotation, name) for name, info in model.model_fields.items()}
    return model.model_validate(raw).model_dump(mode="json")


def example_envelope(spec: EventSpec) -> dict[str, Any]:
    name = f"{spec.event_type}.v{spec.schema_version}"
    aggregate_id = f"{spec.aggregate_type.replace('_', '-')}-1"
    envelope = EventEnvelope(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"urn:algoitny:events:{name}"),
        event_type=spec.event_type,
        schema_version=spec.schema_version,
        occurred_at=datetime.fromisoformat(EXAMPLE_TIME),
        producer=spec.event_type.split(".", 1)[0],
        aggregate_type=spec.aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=1,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        payload=example_payload(spec.payload_model),
    )
    return envelope.model_dump(mode="json")


# -- schema documents ---------------------------------------------------------------------------


def schema_document(spec: EventSpec) -> dict[str, Any]:
    """The JSON Schema of one event type and version: the envelope with its payload inlined."""
    defs_ref = "#/$defs/{model}"
    payload = spec.payload_model.model_json_schema(ref_template=defs_ref)
    defs: dict[str, Any] = payload.pop("$defs", {})
    payload_name = spec.payload_model.__name__
    defs[payload_name] = payload
    envelope = copy.deepcopy(EventEnvelope.model_json_schema(ref_template=defs_ref))
    props = envelope["properties"]
    props["event_type"] = {**props["event_type"], "const": spec.event_type}
    props["schema_version"] = {**props["schema_version"], "const": spec.schema_version}
    props["aggregate_type"] = {**props["aggregate_type"], "const": spec.aggregate_type}
    props["aggregate_id"] = {
        **props["aggregate_id"],
        "description": f"Id of the {spec.aggregate_type}; also the Kafka message key (UTF-8).",
    }
    props["payload"] = {"$ref": defs_ref.format(model=payload_name)}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:algoitny:events:{spec.event_type}:v{spec.schema_version}",
        "title": f"{spec.event_type} v{spec.schema_version}",
        "description": spec.description or spec.event_type,
        "x-event-type": spec.event_type,
        "x-schema-version": spec.schema_version,
        "x-topic": spec.topic.name,
        "x-aggregate-type": spec.aggregate_type,
        "x-key": "aggregate_id",
        "type": "object",
        "properties": props,
        # Producers always set the envelope's id and time (defaults in the model): required here.
        "required": [n for n in props if n in {*envelope.get("required", []), "event_id", "occurred_at"}],
        "additionalProperties": envelope.get("additionalProperties", False),
        "$defs": dict(sorted(defs.items())),
        "examples": [example_envelope(spec)],
    }


def index_document(registry: EventRegistry, upcasters: Iterable[tuple[str, int]]) -> dict[str, Any]:
    ups = set(upcasters)
    entries = []
    for spec in sorted(registry, key=lambda s: s.event_type):
        entries.append(
            {
                "event_type": spec.event_type,
                "current_version": spec.schema_version,
                "topic": spec.topic.name,
                "aggregate_type": spec.aggregate_type,
                "files": [file_name(spec.event_type, v) for v in range(1, spec.schema_version + 1)],
                "upcasters": [
                    f"v{v} -> v{v + 1}" for v in range(1, spec.schema_version) if (spec.event_type, v) in ups
                ],
            }
        )
    return {"title": "AlgoItny event contract", "events": entries}


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- compatibility ------------------------------------------------------------------------------


def _resolve(schema: Any, defs: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 50:
        ref = str(schema["$ref"])
        name = ref.rsplit("/", 1)[-1]
        if name not in defs:
            raise ValueError(f"unresolvable $ref {ref}")
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**defs[name], **extra}
        seen += 1
    return schema


def _signature(schema: Any, defs: dict[str, Any]) -> Any:
    """A schema with refs resolved and annotations dropped, for equality of types."""
    schema = _resolve(schema, defs)
    if isinstance(schema, dict):
        return {k: _signature(v, defs) for k, v in sorted(schema.items()) if k not in ANNOTATIONS}
    if isinstance(schema, list):
        return [_signature(v, defs) for v in schema]
    return schema


def _diff(old: Any, new: Any, path: str, old_defs: dict[str, Any], new_defs: dict[str, Any]) -> list[str]:
    old = _resolve(old, old_defs)
    new = _resolve(new, new_defs)
    if isinstance(old, dict) and isinstance(new, dict) and "properties" in old:
        if "properties" not in new:
            return [f"{path or '(root)'}: retyped (was an object with fields)"]
        problems: list[str] = []
        old_props, new_props = old["properties"], new["properties"]
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in old_props:
            where = f"{path}.{name}" if path else name
            if name not in new_props:
                problems.append(f"{where}: field removed")
            else:
                problems += _diff(old_props[name], new_props[name], where, old_defs, new_defs)
        for name in sorted(new_required - old_required):
            where = f"{path}.{name}" if path else name
            problems.append(f"{where}: {'became required' if name in old_props else 'new required field'}")
        rest_old = {k: v for k, v in old.items() if not _meta_key(k)}
        rest_new = {k: v for k, v in new.items() if not _meta_key(k)}
        if _signature(rest_old, old_defs) != _signature(rest_new, new_defs):
            problems.append(f"{path or '(root)'}: object constraints changed")
        return problems
    if isinstance(old, dict) and isinstance(new, dict):
        keys = (set(old) | set(new)) - ANNOTATIONS
        for key in sorted(keys):
            if key not in old or key not in new:
                return [_retyped(path, old, new, old_defs, new_defs)]
            a, b = old[key], new[key]
            if isinstance(a, dict) and isinstance(b, dict):
                sub = _diff(a, b, path, old_defs, new_defs)
                if sub:
                    return sub
            elif isinstance(a, list) and isinstance(b, list) and key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                if len(a) != len(b):
                    return [_retyped(path, old, new, old_defs, new_defs)]
                for x, y in zip(a, b, strict=True):
                    sub = _diff(x, y, path, old_defs, new_defs)
                    if sub:
                        return sub
            elif _signature(a, old_defs) != _signature(b, new_defs):
                return [_retyped(path, old, new, old_defs, new_defs)]
        return []
    if _signature(old, old_defs) != _signature(new, new_defs):
        return [_retyped(path, old, new, old_defs, new_defs)]
    return []


def _meta_key(key: str) -> bool:
    """Keys compared elsewhere (fields) or describing the document rather than the data."""
    return key in ANNOTATIONS or key in ("properties", "required", "$defs", "$id", "$schema") or key.startswith("x-")


def _retyped(path: str, old: Any, new: Any, old_defs: dict[str, Any], new_defs: dict[str, Any]) -> str:
    before = json.dumps(_signature(old, old_defs), sort_keys=True)[:200]
    after = json.dumps(_signature(new, new_defs), sort_keys=True)[:200]
    return f"{path or '(root)'}: retyped from {before} to {after}"


def breaking_changes(old_doc: dict[str, Any], new_doc: dict[str, Any]) -> list[str]:
    """Why ``new_doc`` cannot replace ``old_doc`` under the same version (empty: compatible)."""
    problems = []
    for key in ("x-topic", "x-aggregate-type", "x-key"):
        if old_doc.get(key) != new_doc.get(key):
            problems.append(f"{key} changed from {old_doc.get(key)!r} to {new_doc.get(key)!r}")
    old_defs, new_defs = old_doc.get("$defs", {}), new_doc.get("$defs", {})
    problems += _diff(old_doc, new_doc, "", old_defs, new_defs)
    return problems


# -- the client's generated models --------------------------------------------------------------


@dataclass
class _Code:
    models: dict[str, str] = field(default_factory=dict)  # class name -> source
    order: list[str] = field(default_factory=list)
    origins: dict[str, type] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)


_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")


def _render_type(annotation: Any, code: _Code) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None) or annotation is None:
        return "None"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_render_type(a, code) for a in args)
    if origin is typing.Literal:
        code.imports.add("from typing import Literal")
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin in (list, set, frozenset, tuple, dict):
        inner = ", ".join("..." if a is Ellipsis else _render_type(a, code) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _add_model(annotation, code)
        return annotation.__name__
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        _add_enum(annotation, code)
        return annotation.__name__
    if annotation in (str, int, float, bool):
        return annotation.__name__
    if annotation is datetime:
        code.imports.add("from datetime import datetime")
        return "datetime"
    if annotation is date:
        code.imports.add("from datetime import date")
        return "date"
    if annotation is uuid.UUID:
        code.imports.add("from uuid import UUID")
        return "UUID"
    if annotation is Any:
        code.imports.add("from typing import Any")
        return "Any"
    raise TypeError(f"the client generator cannot render {annotation!r}; extend event_contract._render_type")


def _render_field(name: str, info: FieldInfo, code: _Code) -> str:
    annotation = _render_type(info.annotation, code)
    kwargs: list[str] = []
    for meta in info.metadata:
        for key in _CONSTRAINTS:
            value = getattr(meta, key, None)
            if value is not None:
                kwargs.append(f"{key}={value!r}")
    if info.alias and info.alias != name:
        kwargs.append(f"alias={info.alias!r}")
    if info.description:
        kwargs.append(f"description={info.description!r}")
    factory = info.default_factory
    if factory is not None:
        if factory in (list, dict, set):
            kwargs.insert(0, f"default_factory={factory.__name__}")
        elif isinstance(factory, type) and issubclass(factory, BaseModel):
            _add_model(factory, code)
            kwargs.insert(0, f"default_factory={factory.__name__}")
        else:
            kwargs.insert(0, f"default_factory=lambda: {_constant(name, factory)}")
    elif not info.is_required():
        kwargs.insert(0, f"default={_default(name, info.default)}")
    if not kwargs:
        return f"    {name}: {annotation}"
    code.imports.add("from pydantic import Field")
    if len(kwargs) == 1 and kwargs[0].startswith("default="):
        return f"    {name}: {annotation} = {kwargs[0][len('default=') :]}"
    return f"    {name}: {annotation} = Field({', '.join(kwargs)})"


def _default(name: str, value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    text = repr(value)
    try:
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, SyntaxError):
        pass
    raise TypeError(f"field {name!r}: the client generator cannot render the default {value!r}")


def _constant(name: str, factory: Callable[..., Any]) -> str:
    """A default factory that always returns the same literal (``lambda: ()``) as source."""
    try:
        first, second = repr(factory()), repr(factory())
        if first == second and ast.literal_eval(first) == factory():
            return first
    except (TypeError, ValueError, SyntaxError):
        pass
    raise TypeError(f"field {name!r}: the client generator cannot render default_factory {factory!r}")


def _add_enum(kind: type[enum.Enum], code: _Code) -> None:
    name = kind.__name__
    if name in code.origins:
        if code.origins[name] is not kind:
            raise ValueError(f"two different types are both named {name!r}")
        return
    code.origins[name] = kind
    base = "StrEnum" if issubclass(kind, str) else "IntEnum" if issubclass(kind, int) else "Enum"
    code.imports.add(f"from enum import {base}")
    lines = [f"class {name}({base}):"]
    lines += [f"    {member.name} = {member.value!r}" for member in kind]
    code.models[name] = "\n".join(lines)
    code.order.append(name)


def _add_model(model: type[BaseModel], code: _Code) -> None:
    name = model.__name__
    if name in code.origins:
        if code.origins[name] is not model:
            raise ValueError(f"two different payload models are both named {name!r}")
        return
    code.origins[name] = model
    lines = [f"class {name}(_Payload):"]
    doc = inspect.cleandoc(model.__doc__ or "") if model.__doc__ else ""
    if doc and "__doc__" in model.__dict__:
        lines.append(textwrap.indent(f'"""{doc}"""', "    "))
        lines.append("")
    if model.model_config.get("extra", "ignore") != "ignore" or not model.model_config.get("frozen"):
        raise ValueError(f"{name}: payload models must be frozen and ignore extra fields")
    fields = [_render_field(n, info, code) for n, info in model.model_fields.items()]
    lines += fields or ["    pass"]
    code.models[name] = "\n".join(lines)
    code.order.append(name)


def _upcaster_source(event_type: str, version: int, fn: Callable[..., Any]) -> tuple[str, str]:
    """The upcaster's own source under a generated name; it must use nothing but builtins."""
    source = textwrap.dedent(inspect.getsource(fn))
    lines = source.splitlines()
    while lines and lines[0].lstrip().startswith("@"):
        lines.pop(0)
    source = "\n".join(lines)
    safe = re.sub(r"\W", "_", event_type)
    name = f"_upcast_{safe}_v{version}"
    source = re.sub(rf"^def {re.escape(fn.__name__)}\(", f"def {name}(", source, count=1)
    unknown = {n for n in fn.__code__.co_names if not hasattr(builtins, n)} - _attribute_names(fn)
    if fn.__code__.co_freevars or unknown:
        raise ValueError(
            f"upcaster {fn.__qualname__} of {event_type} v{version} must use only builtins and its argument "
            f"(it uses {sorted(unknown | set(fn.__code__.co_freevars))})"
        )
    return name, source


def _attribute_names(fn: Callable[..., Any]) -> set[str]:
    """Names used as attributes (``payload.get``) rather than globals."""
    import dis

    return {i.argval for i in dis.get_instructions(fn) if i.opname in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR")}


def client_source(registry: EventRegistry) -> str:
    code = _Code()
    specs = sorted(registry, key=lambda s: s.event_type)
    for spec in specs:
        _add_model(spec.payload_model, code)
    upcasters = sorted(
        (et, v, _upcaster_source(et, v, fn)) for (et, v), fn in registry.upcasters().items() if _known(registry, et)
    )
    by_module: dict[str, set[str]] = {"pydantic": {"BaseModel", "ConfigDict"}, "typing": {"Any"}}
    for line in code.imports:
        module, names = line[len("from ") :].split(" import ", 1)
        by_module.setdefault(module, set()).update(n.strip() for n in names.split(","))
    std = [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(by_module.items()) if m != "pydantic"]
    third = [f"from pydantic import {', '.join(sorted(by_module['pydantic']))}"]
    out = [
        '"""GENERATED by `make events` (python -m algoitny_shared.event_contract write) from the',
        "platform's event registry. Do not edit: change the registry and regenerate.",
        "",
        "One frozen pydantic model per event type (current version), the catalogue of event types",
        '(version, topic, aggregate), the topics, and the upcasters from older versions."""',
        "",
        "from __future__ import annotations",
        "",
        *std,
        "",
        *third,
        "",
        "",
        "class _Payload(BaseModel):",
        "    # Fields added by newer producers are ignored (forward compatible).",
        '    model_config = ConfigDict(extra="ignore", frozen=True)',
    ]
    for name in code.order:
        out += ["", "", code.models[name]]
    out += ["", "", "# -- upcasters: an older version's payload (a JSON dict) to the next version's --"]
    for _, _, (_, source) in upcasters:
        out += ["", "", source.rstrip()]
    out += [
        "",
        "",
        "UPCASTERS: dict[tuple[str, int], Any] = {",
        *(f"    ({et!r}, {v}): {name}," for et, v, (name, _) in upcasters),
        "}",
        "",
        "# event type -> (current schema version, payload model, topic, aggregate type)",
        "EVENT_TYPES: dict[str, tuple[int, type[BaseModel], str, str]] = {",
        *(
            f"    {s.event_type!r}: ({s.schema_version}, {s.payload_model.__name__}, "
            f"{s.topic.name!r}, {s.aggregate_type!r}),"
            for s in specs
        ),
        "}",
        "",
        "# topic (without the namespace prefix) -> description",
        "TOPICS: dict[str, str] = {",
        *(f"    {t.name!r}: {t.description!r}," for t in _topics(specs)),
        "}",
        "",
        "__all__ = [",
        *(f"    {n!r}," for n in ["EVENT_TYPES", "TOPICS", "UPCASTERS", *sorted(code.order)]),
        "]",
        "",
    ]
    return "\n".join(out)


def _known(registry: EventRegistry, event_type: str) -> bool:
    return any(s.event_type == event_type for s in registry)


def _topics(specs: Sequence[EventSpec]) -> list[Any]:
    seen: dict[str, Any] = {}
    for spec in specs:
        seen.setdefault(spec.topic.name, spec.topic)
    return [seen[k] for k in sorted(seen)]


def format_python(source: str, path: Path) -> str:
    """``ruff format`` with the repository's settings, so the generated file passes ``make lint``."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ruff format failed: {result.stderr}")
    return result.stdout


# -- write and check ----------------------------------------------------------------------------


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # files that `write` would change

    @property
    def ok(self) -> bool:
        return not self.errors and not self.stale


def expected_files(registry: EventRegistry) -> dict[str, str]:
    """File name under docs/events -> content, for the current version of every type + the index."""
    files = {file_name(s.event_type, s.schema_version): render_json(schema_document(s)) for s in registry}
    files["index.json"] = render_json(index_document(registry, registry.upcasters()))
    return files


def _existing(docs_dir: Path) -> dict[str, str]:
    if not docs_dir.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(docs_dir.glob("*.json"))}


def git_files(ref: str, docs_dir: Path, repo: Path = REPO) -> dict[str, str]:
    """The schema files as they are at a git ref (empty if the ref has none)."""
    rel = docs_dir.resolve().relative_to(repo.resolve()) if docs_dir.is_absolute() else docs_dir
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{ref}:{rel.as_posix()}"], cwd=repo, capture_output=True, text=True
    )
    if listing.returncode != 0:
        return {}
    out = {}
    for name in listing.stdout.split():
        if name.endswith(".json"):
            shown = subprocess.run(
                ["git", "show", f"{ref}:{rel.as_posix()}/{name}"], cwd=repo, capture_output=True, text=True, check=True
            )
            out[name] = shown.stdout
    return out


def compatibility_errors(registry: EventRegistry, baseline: dict[str, str], label: str) -> list[str]:
    """Breaking changes of the registry against the schema files in ``baseline`` (name -> text)."""
    errors: list[str] = []
    specs = {s.event_type: s for s in registry}
    upcasters = registry.upcasters()
    for name, text in sorted(baseline.items()):
        match = _FILE_RE.match(name)
        if not match:
            continue
        event_type, version = match["type"], int(match["version"])
        old = json.loads(text)
        spec = specs.get(event_type)
        if spec is None:
            errors.append(f"{event_type}: the event type was removed from the registry ({label} has {name})")
            continue
        if version > spec.schema_version:
            errors.append(f"{event_type}: the registry is at v{spec.schema_version} but {label} has v{version}")
        elif version == spec.schema_version:
            problems = breaking_changes(old, schema_document(spec))
            if problems:
                errors.append(
                    f"{event_type} v{version}: not backward compatible with {label}/{name}: "
                    + "; ".join(problems)
                    + f". Register it as v{version + 1} with an upcaster from v{version} "
                    f"(REGISTRY.upcaster({event_type!r}, from_version={version})) instead."
                )
        else:
            errors += _upcast_errors(registry, spec, version, old, label, name)
    for spec in specs.values():
        for version in range(1, spec.schema_version):
            if (spec.event_type, version) not in upcasters:
                errors.append(f"{spec.event_type}: v{spec.schema_version} has no upcaster from v{version}")
    return errors


def _upcast_errors(
    registry: EventRegistry, spec: EventSpec, version: int, old: dict[str, Any], label: str, name: str
) -> list[str]:
    """An older version's examples must upcast (with the client's copy of the upcasters too) into
    payloads the current model accepts."""
    errors = []
    for example in old.get("examples", []):
        try:
            payload = registry.upcast(spec.event_type, version, example["payload"])
            spec.payload_model.model_validate(payload)
            if _client_upcast(registry, spec, version, example["payload"]) != payload:
                raise ValueError("the client's copy of the upcasters gives another result")
        except Exception as exc:
            errors.append(
                f"{spec.event_type}: the example of {label}/{name} does not upcast to v{spec.schema_version}: {exc}"
            )
    return errors


def _client_upcast(registry: EventRegistry, spec: EventSpec, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The upcast as the client does it: the copied source, run with nothing but builtins."""
    for step in range(version, spec.schema_version):
        name, source = _upcaster_source(spec.event_type, step, registry.upcasters()[(spec.event_type, step)])
        namespace: dict[str, Any] = {"__builtins__": builtins}
        exec(compile(source, f"<upcaster {name}>", "exec"), namespace)
        payload = namespace[name](dict(payload))
    return payload


def check(
    registry: EventRegistry,
    docs_dir: Path,
    client_path: Path | None,
    *,
    against: dict[str, dict[str, str]] | None = None,
) -> Report:
    report = Report()
    existing = _existing(docs_dir)
    report.errors += compatibility_errors(registry, existing, str(docs_dir))
    for label, files in (against or {}).items():
        report.errors += compatibility_errors(registry, files, label)
    for name, text in expected_files(registry).items():
        if existing.get(name) != text:
            report.stale.append(str(docs_dir / name))
    if client_path is not None:
        generated = format_python(client_source(registry), client_path)
        current = client_path.read_text(encoding="utf-8") if client_path.exists() else None
        if current != generated:
            report.stale.append(str(client_path))
    return report


def write(registry: EventRegistry, docs_dir: Path, client_path: Path | None) -> list[str]:
    """Regenerate the files; refuses (returns the errors, writes nothing) on a breaking change."""
    errors = compatibility_errors(registry, _existing(docs_dir), str(docs_dir))
    if errors:
        return errors
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name, text in expected_files(registry).items():
        path = docs_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if client_path is not None:
        generated = format_python(client_source(registry), client_path)
        if not client_path.exists() or client_path.read_text(encoding="utf-8") != generated:
            client_path.parent.mkdir(parents=True, exist_ok=True)
            client_path.write_text(generated, encoding="utf-8")
            print(f"wrote {client_path}")
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The event contract: JSON Schemas, client models, compatibility.")
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument("--docs", type=Path, default=DOCS_DIR, help="schema directory (default docs/events)")
    parser.add_argument("--client", type=Path, default=CLIENT_MODULE, help="generated client module")
    parser.add_argument("--no-client", action="store_true", help="leave the client module alone")
    parser.add_argument("--against", action="append", default=[], help="also check against this git ref's files")
    args = parser.parse_args(argv)
    client = None if args.no_client else args.client
    if args.command == "write":
        errors = write(REGISTRY, args.docs, client)
        for error in errors:
            print(f"BREAKING: {error}", file=sys.stderr)
        return 1 if errors else 0
    against = {f"{ref}:{args.docs}": git_files(ref, args.docs) for ref in args.against}
    report = check(REGISTRY, args.docs, client, against=against)
    for error in report.errors:
        print(f"BREAKING: {error}", file=sys.stderr)
    for path in report.stale:
        print(f"OUT OF DATE: {path} (run `make events`)", file=sys.stderr)
    if report.ok:
        print(f"event contract OK: {len(list(REGISTRY))} event types, schemas in {args.docs}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
