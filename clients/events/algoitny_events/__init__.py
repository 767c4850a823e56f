"""AlgoItny's published event contract: typed models, decoding with upcasting, subscribing.

No service code: this package depends on pydantic and FastStream only. The models in
``_generated`` are generated from the platform's event registry (``make events``).
"""

from algoitny_events._generated import *  # noqa: F403  (the generated models and catalogues)
from algoitny_events._generated import EVENT_TYPES, TOPICS, UPCASTERS
from algoitny_events.decoding import (
    DecodeError,
    Event,
    InvalidPayload,
    NewerVersion,
    NotAnEnvelope,
    UnknownEventType,
    current_version,
    decode,
    decode_as,
    model_of,
    upcast,
)
from algoitny_events.dedup import Deduplicator, MemoryDeduplicator, SqliteDeduplicator
from algoitny_events.envelope import Envelope
from algoitny_events.subscribe import make_broker, physical_topics, subscribe, subscribe_batch, topics_for

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "UPCASTERS",
    "DecodeError",
    "Deduplicator",
    "Envelope",
    "Event",
    "InvalidPayload",
    "MemoryDeduplicator",
    "NewerVersion",
    "NotAnEnvelope",
    "SqliteDeduplicator",
    "UnknownEventType",
    "current_version",
    "decode",
    "decode_as",
    "make_broker",
    "model_of",
    "physical_topics",
    "subscribe",
    "subscribe_batch",
    "topics_for",
    "upcast",
]
