"""Decoding: bytes -> envelope -> the current version's typed payload (older versions upcast)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel

from algoitny_events._generated import EVENT_TYPES, UPCASTERS
from algoitny_events.envelope import Envelope

P = TypeVar("P", bound=BaseModel)


class DecodeError(ValueError):
    """The message cannot be turned into a typed event."""


class NotAnEnvelope(DecodeError):
    """The bytes are not a JSON event envelope."""


class UnknownEventType(DecodeError):
    """An event type this client does not know (newer than the client, or not an event)."""


class NewerVersion(DecodeError):
    """The event's schema version is newer than this client's: upgrade the client."""


class InvalidPayload(DecodeError):
    """The payload does not match the event type's model (after upcasting)."""


@dataclass(frozen=True)
class Event(Generic[P]):
    """A decoded event: the envelope and the typed payload of the current schema version."""

    envelope: Envelope
    payload: P

    @property
    def event_id(self) -> UUID:
        return self.envelope.event_id

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def aggregate_id(self) -> str:
        return self.envelope.aggregate_id

    @property
    def aggregate_version(self) -> int:
        return self.envelope.aggregate_version


def current_version(event_type: str) -> int:
    try:
        return EVENT_TYPES[event_type][0]
    except KeyError:
        raise UnknownEventType(event_type) from None


def model_of(event_type: str) -> type[BaseModel]:
    try:
        return EVENT_TYPES[event_type][1]
    except KeyError:
        raise UnknownEventType(event_type) from None


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """An older version's payload brought step by step to the current version."""
    current = current_version(event_type)
    if version > current:
        raise NewerVersion(f"{event_type} v{version} is newer than this client (v{current})")
    while version < current:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise DecodeError(f"{event_type} v{version} has no upcaster to v{version + 1}")
        payload = step(dict(payload))
        version += 1
    return payload


def parse_envelope(raw: bytes | str | dict[str, Any] | Envelope) -> Envelope:
    if isinstance(raw, Envelope):
        return raw
    try:
        if isinstance(raw, dict):
            return Envelope.model_validate(raw)
        return Envelope.model_validate_json(raw)
    except ValueError as exc:
        raise NotAnEnvelope(str(exc)) from exc


def decode(raw: bytes | str | dict[str, Any] | Envelope) -> Event[Any]:
    """The typed event of a message value (raises a DecodeError subclass)."""
    envelope = parse_envelope(raw)
    model = model_of(envelope.event_type)
    payload = upcast(envelope.event_type, envelope.schema_version, envelope.payload)
    try:
        typed = model.model_validate(payload)
    except ValueError as exc:
        raise InvalidPayload(f"{envelope.event_type}: {exc}") from exc
    return Event(envelope, typed)


def decode_as(raw: bytes | str | dict[str, Any] | Envelope, model: type[P]) -> Event[P]:
    """``decode`` checked against the expected payload model (for static typing)."""
    event = decode(raw)
    if not isinstance(event.payload, model):
        raise UnknownEventType(f"expected {model.__name__}, got {event.event_type}")
    return event
