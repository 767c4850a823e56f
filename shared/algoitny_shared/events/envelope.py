"""The envelope every domain event travels in, on Kafka and in the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventEnvelope(BaseModel):
    """Metadata common to all events, plus the type-specific payload.

    ``aggregate_version`` grows by one with each change of the aggregate, so consumers
    can drop duplicates and stale events (e.g. as OpenSearch's external version).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str = Field(min_length=1, max_length=64)
    aggregate_type: str = Field(min_length=1, max_length=64)
    aggregate_id: str = Field(min_length=1, max_length=256)
    aggregate_version: int = Field(ge=1)
    trace_id: str | None = None
    causation_id: str | None = None
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventEnvelope:
        return cls.model_validate_json(raw)

    @property
    def key(self) -> bytes:
        """Kafka key: the aggregate id, so one aggregate's events stay ordered."""
        return self.aggregate_id.encode()
