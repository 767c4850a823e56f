"""One registry of all event types: name, schema version, payload model, topic, aggregate.

Versioning: a backward-compatible change (an added optional field) keeps the version. Any other
change (a removed, renamed or retyped field, a new required field) registers the type under the
next version together with an **upcaster** from the previous one: a pure function from the old
payload (a JSON dict) to the new one, using nothing but builtins (its source is copied into the
published client, ``clients/events``). ``decode`` runs the chain, so consumers see only the
current version; ``make events-check`` enforces the rule against ``docs/events/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from algoitny_shared.events.envelope import EventEnvelope
from algoitny_shared.topics import TopicSpec

P = TypeVar("P", bound=BaseModel)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    pass


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    schema_version: int
    payload_model: type[BaseModel]
    topic: TopicSpec
    aggregate_type: str
    description: str


class EventRegistry:
    def __init__(self) -> None:
        self._by_type: dict[str, EventSpec] = {}
        self._by_model: dict[type[BaseModel], EventSpec] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(
        self, event_type: str, *, version: int, topic: TopicSpec, aggregate_type: str
    ) -> Callable[[type[P]], type[P]]:
        def decorate(model: type[P]) -> type[P]:
            if event_type in self._by_type:
                raise ValueError(f"event type {event_type!r} registered twice")
            spec = EventSpec(event_type, version, model, topic, aggregate_type, (model.__doc__ or "").strip())
            self._by_type[event_type] = spec
            self._by_model[model] = spec
            return model

        return decorate

    def upcaster(self, event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the function turning a ``from_version`` payload into a ``from_version + 1`` one."""

        def decorate(fn: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._upcasters:
                raise ValueError(f"upcaster for {event_type} v{from_version} registered twice")
            self._upcasters[key] = fn
            return fn

        return decorate

    def upcasters(self) -> dict[tuple[str, int], Upcaster]:
        """Every upcaster by (event type, the version it upgrades from)."""
        return dict(self._upcasters)

    def upcast(self, event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """An older version's payload brought to the current version (raises UnknownEventType
        when a step of the chain is missing)."""
        spec = self.spec_for(event_type)
        while version < spec.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventType(f"{event_type} v{version} has no upcaster to v{version + 1}")
            payload = step(dict(payload))
            version += 1
        return payload

    def spec_for(self, event_type: str) -> EventSpec:
        try:
            return self._by_type[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def spec_of(self, payload: BaseModel) -> EventSpec:
        return self._by_model[type(payload)]

    def __iter__(self) -> Iterator[EventSpec]:
        return iter(self._by_type.values())

    def envelope(
        self,
        payload: BaseModel,
        *,
        producer: str,
        aggregate_id: str,
        aggregate_version: int,
        trace_id: str | None = None,
        causation_id: str | None = None,
    ) -> EventEnvelope:
        spec = self.spec_of(payload)
        return EventEnvelope(
            event_type=spec.event_type,
            schema_version=spec.schema_version,
            producer=producer,
            aggregate_type=spec.aggregate_type,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            trace_id=trace_id,
            causation_id=causation_id,
            payload=payload.model_dump(mode="json"),
        )

    def decode(self, envelope: EventEnvelope) -> Any:
        """The typed payload of an envelope (raises UnknownEventType / ValidationError)."""
        spec = self.spec_for(envelope.event_type)
        if envelope.schema_version > spec.schema_version:
            raise UnknownEventType(f"{envelope.event_type} v{envelope.schema_version} is newer than this consumer")
        return spec.payload_model.model_validate(
            self.upcast(envelope.event_type, envelope.schema_version, envelope.payload)
        )


REGISTRY = EventRegistry()

# Import the catalogue so every event type is registered whenever the registry is used.
from algoitny_shared.events import catalog as _catalog  # noqa: E402,F401
