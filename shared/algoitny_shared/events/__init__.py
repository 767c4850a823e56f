"""Event envelope, event catalogue and the registry that maps one to the other."""

from algoitny_shared.events.envelope import EventEnvelope
from algoitny_shared.events.registry import REGISTRY, EventRegistry, EventSpec, UnknownEventType

__all__ = ["REGISTRY", "EventEnvelope", "EventRegistry", "EventSpec", "UnknownEventType"]
