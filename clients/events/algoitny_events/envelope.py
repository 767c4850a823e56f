"""The envelope every event travels in (the message value on Kafka, UTF-8 JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """Metadata common to every event plus its type-specific ``payload`` (a JSON object).

    ``aggregate_id`` is also the Kafka key: one aggregate's events are on one partition, in order.
    ``aggregate_version`` grows by one with each change of the aggregate. Fields added to the
    envelope by newer producers are ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: UUID
    event_type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: datetime
    producer: str = Field(min_length=1, max_length=64)
    aggregate_type: str = Field(min_length=1, max_length=64)
    aggregate_id: str = Field(min_length=1, max_length=256)
    aggregate_version: int = Field(ge=1)
    trace_id: str | None = None
    causation_id: str | None = None
    payload: dict[str, Any]
