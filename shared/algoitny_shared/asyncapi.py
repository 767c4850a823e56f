"""The AsyncAPI 3.0 description of every Kafka topic and event, generated from the code.

Channels come from :mod:`algoitny_shared.topics`, messages from the event registry and the
schemas from the pydantic models, so the document cannot drift from what is published.
The output is deterministic; ``docs/asyncapi.yaml`` is regenerated with::

    python -m algoitny_shared.asyncapi --out docs/asyncapi.yaml
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from algoitny_shared.events import REGISTRY, EventEnvelope, EventSpec
from algoitny_shared.kafka import DLQ_HEADERS
from algoitny_shared.topics import CONSUMER_GROUPS, DOMAIN_TOPICS, TopicSpec, dead_letter_topic

ASYNCAPI_VERSION = "3.0.0"
# Version of the event contract as a whole; bump it when the catalogue changes incompatibly.
DOCUMENT_VERSION = "1.0.0"
NAMESPACE_PLACEHOLDER = "{namespace}"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"
DEAD_LETTER_MESSAGE = "DeadLetter"

DESCRIPTION = """\
Domain events of the AlgoItny platform on Kafka.

**Envelope.** Every message value is a UTF-8 JSON `EventEnvelope`: `event_id`, `event_type`,
`schema_version`, `occurred_at`, `producer`, `aggregate_type`, `aggregate_id`,
`aggregate_version`, optional `trace_id` / `causation_id`, and the event-specific `payload`.
Headers repeat `content-type`, `event-type`, `event-id` and `schema-version` so a consumer can
route or skip a message without parsing it.

**Ordering.** The message key is the aggregate id (UTF-8), so all events of one aggregate go to
one partition and are delivered in order; there is no order across aggregates.

**Delivery.** At least once: a consumer may see an event more than once (producer retries, outbox
relay restarts, consumer rebalances). Consumers must be idempotent, deduplicating by `event_id`.
`aggregate_version` increases by one with each change of an aggregate, so a consumer can also
drop stale events (e.g. by using it as an external version).

**Compatibility.** Consumers ignore payload fields they do not know; an incompatible change gets
a new `schema_version` with an upcaster from the previous one, and events newer than a consumer
understands are dead-lettered. One JSON Schema per event type and version is in `docs/events/`;
the consumer guide is `docs/event-consumers.md` and the typed client `clients/events/`.

**Dead letters.** Each consumer group has its own `<group>.dlq` topic. A message its consumer
cannot decode or handle (after bounded retries) is copied there with the original key and value
verbatim plus `x-dlq-*` headers giving the reason, so it can be inspected and replayed.

**Topic names.** Physical names are `<namespace>.<topic>`; the namespace
(`ALGOITNY_NAMESPACE`, `algoitny` by default) keeps environments and test runs apart.
"""

_DLQ_HEADER_DOCS: dict[str, str] = {
    "x-dlq-reason": "Why the message was dead-lettered: undecodable, unknown_event_type, invalid_payload "
    "or handler_failed.",
    "x-dlq-error": "Exception type and message of the failure (at most 2000 characters).",
    "x-dlq-consumer": "Consumer group that failed to process the message.",
    "x-dlq-attempts": "How many times the handler was tried (decimal integer).",
    "x-dlq-failed-at": "When the message was dead-lettered (ISO 8601 timestamp, UTC).",
    "x-dlq-source-topic": "Physical topic the message was consumed from.",
    "x-dlq-partition": "Partition of the source topic (decimal integer).",
    "x-dlq-offset": "Offset in the source partition (decimal integer).",
}

# Kafka topic settings the kafka channel binding can express, with their JSON types.
_INT_TOPIC_CONFIGS = frozenset(
    {"retention.ms", "retention.bytes", "delete.retention.ms", "max.message.bytes", "min.insync.replicas"}
)


def producer_of(spec: EventSpec) -> str:
    """The service that publishes an event type: ``problems.ProblemCreated`` -> ``problems``."""
    return spec.event_type.split(".", 1)[0]


class _Schemas:
    """components.schemas, filled from pydantic models with their $defs hoisted."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def add(self, model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=SCHEMA_REF)
        for name, sub in schema.pop("$defs", {}).items():
            self._put(name, sub)
        name = model.__name__
        self._put(name, schema)
        return {"$ref": SCHEMA_REF.format(model=name)}

    def _put(self, name: str, schema: dict[str, Any]) -> None:
        if name in self.schemas and self.schemas[name] != schema:
            raise ValueError(f"two different schemas are both named {name!r}")
        self.schemas[name] = schema


def _address(topic: TopicSpec, namespace: str) -> str:
    return topic.physical(namespace)


def _channel_id(topic: TopicSpec) -> str:
    return topic.name


def _parameters(address: str) -> dict[str, Any]:
    if NAMESPACE_PLACEHOLDER not in address:
        return {}
    return {
        "parameters": {
            "namespace": {
                "description": "Environment prefix of every topic (ALGOITNY_NAMESPACE).",
                "default": "algoitny",
                "examples": ["algoitny"],
            }
        }
    }


def _topic_binding(topic: TopicSpec, address: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in sorted(topic.config.items()):
        if key in _INT_TOPIC_CONFIGS:
            config[key] = int(value)
        elif key == "cleanup.policy":
            config[key] = [p.strip() for p in value.split(",")]
    binding: dict[str, Any] = {"topic": address}
    if config:
        binding["topicConfiguration"] = config
    binding["bindingVersion"] = KAFKA_BINDING_VERSION
    return binding


def _channel(topic: TopicSpec, namespace: str, message_names: Sequence[str], summary: str) -> dict[str, Any]:
    address = _address(topic, namespace)
    binding = _topic_binding(topic, address)
    return {
        "address": address,
        "title": topic.name,
        "summary": summary,
        "description": topic.description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in message_names},
        **_parameters(address),
        "bindings": {"kafka": binding},
    }


def _message_ref(topic: TopicSpec, name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{_channel_id(topic)}/messages/{name}"}


def _event_headers(spec: EventSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "content-type": {"type": "string", "const": "application/json"},
            "event-type": {"type": "string", "const": spec.event_type},
            "event-id": {"type": "string", "format": "uuid", "description": "Same as the envelope's event_id."},
            "schema-version": {
                "type": "string",
                "const": str(spec.schema_version),
                "description": "Same as the envelope's schema_version, as a decimal string.",
            },
        },
        "required": ["content-type", "event-type", "event-id", "schema-version"],
    }


def _envelope_schema(spec: EventSpec, payload_ref: dict[str, str]) -> dict[str, Any]:
    schema = copy.deepcopy(EventEnvelope.model_json_schema(ref_template=SCHEMA_REF))
    if "$defs" in schema:  # the envelope has no nested models today
        raise ValueError("EventEnvelope schema with $defs is not supported")
    props = schema["properties"]
    props["event_type"] = {**props["event_type"], "const": spec.event_type}
    props["schema_version"] = {**props["schema_version"], "const": spec.schema_version}
    props["aggregate_type"] = {**props["aggregate_type"], "const": spec.aggregate_type}
    props["producer"] = {**props["producer"], "examples": [producer_of(spec)]}
    props["aggregate_id"] = {
        **props["aggregate_id"],
        "description": f"Id of the {spec.aggregate_type}; also the Kafka message key.",
    }
    props["payload"] = payload_ref
    schema["title"] = f"{spec.payload_model.__name__} envelope"
    return schema


def _event_message(spec: EventSpec, payload_ref: dict[str, str]) -> dict[str, Any]:
    return {
        "name": spec.event_type,
        "title": spec.payload_model.__name__,
        "summary": spec.description.splitlines()[0] if spec.description else spec.event_type,
        "description": spec.description or spec.event_type,
        "contentType": "application/json",
        "headers": _event_headers(spec),
        "payload": _envelope_schema(spec, payload_ref),
        "correlationId": {
            "description": "Trace id of the request that caused the event.",
            "location": "$message.payload#/trace_id",
        },
        "tags": [{"name": f"producer:{producer_of(spec)}"}, {"name": f"aggregate:{spec.aggregate_type}"}],
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"The {spec.aggregate_type} id (aggregate_id), UTF-8."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-schema-version": spec.schema_version,
        "x-aggregate-type": spec.aggregate_type,
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER_MESSAGE,
        "title": "Dead-lettered message",
        "summary": "A message a consumer could not process, copied verbatim with the failure in headers.",
        "description": "The key and value are the original message's bytes, unchanged, so the message can be "
        "replayed to its source topic. The value is normally an event envelope (see the domain "
        "channels), but for reason `undecodable` it may not even be valid JSON. The original headers "
        "are kept and the `x-dlq-*` headers are added (replacing any from an earlier dead-lettering).",
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                **{name: {"type": "string", "description": _DLQ_HEADER_DOCS[name]} for name in DLQ_HEADERS},
                "content-type": {"type": "string", "description": "Original header, kept."},
                "event-type": {"type": "string", "description": "Original header, kept."},
                "event-id": {"type": "string", "description": "Original header, kept."},
                "schema-version": {"type": "string", "description": "Original header, kept."},
            },
            "required": list(DLQ_HEADERS),
        },
        "payload": {
            "description": "The original message value, byte for byte (usually an EventEnvelope JSON).",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original message key, unchanged."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def build_document(namespace: str = NAMESPACE_PLACEHOLDER) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document; ``namespace`` fills in the topic names' prefix."""
    schemas = _Schemas()
    schemas.add(EventEnvelope)
    specs = sorted(REGISTRY, key=lambda s: s.event_type)
    payload_refs = {spec.event_type: schemas.add(spec.payload_model) for spec in specs}

    domain_topics = list(DOMAIN_TOPICS)
    for spec in specs:
        if spec.topic not in domain_topics:
            domain_topics.append(spec.topic)
    events_on: dict[str, list[EventSpec]] = {t.name: [s for s in specs if s.topic == t] for t in domain_topics}
    dlq_topics = [(group, dead_letter_topic(group)) for group in CONSUMER_GROUPS]

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in domain_topics:
        events = events_on[topic.name]
        channels[_channel_id(topic)] = _channel(
            topic, namespace, [s.event_type for s in events], f"Domain events on {topic.name}."
        )
        operations[f"receive.{topic.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_channel_id(topic)}"},
            "title": f"Subscribe to {topic.name}",
            "summary": f"Consume the events on {topic.name} (e.g. for analytics or a derived view).",
            "description": "Use a consumer group of your own, named `<namespace>.<group>`; start from the "
            "earliest offset to rebuild a view (domain topics keep their whole history). Deduplicate by "
            "event_id and skip event types you do not handle.",
            "messages": [_message_ref(topic, s.event_type) for s in events],
        }
    for spec in specs:
        operations[f"send.{spec.event_type}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_channel_id(spec.topic)}"},
            "title": f"Publish {spec.event_type}",
            "summary": f"The {producer_of(spec)} service publishes {spec.payload_model.__name__}.",
            "description": "Published with acks=all and an idempotent producer; keyed by aggregate id.",
            "tags": [{"name": f"producer:{producer_of(spec)}"}],
            "messages": [_message_ref(spec.topic, spec.event_type)],
        }
    for group, topic in dlq_topics:
        channels[_channel_id(topic)] = _channel(
            topic, namespace, [DEAD_LETTER_MESSAGE], f"Dead letters of the {group} consumer group."
        )
        operations[f"send.{topic.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_channel_id(topic)}"},
            "title": f"Dead-letter for {group}",
            "summary": f"The {group} consumer writes the messages it cannot process here.",
            "tags": [{"name": f"consumer:{group}"}],
            "messages": [_message_ref(topic, DEAD_LETTER_MESSAGE)],
        }
        operations[f"receive.{topic.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_channel_id(topic)}"},
            "title": f"Inspect or replay dead letters of {group}",
            "summary": "Read dead letters to inspect them or republish their bytes to the source topic.",
            "messages": [_message_ref(topic, DEAD_LETTER_MESSAGE)],
        }

    messages: dict[str, Any] = {spec.event_type: _event_message(spec, payload_refs[spec.event_type]) for spec in specs}
    if dlq_topics:
        messages[DEAD_LETTER_MESSAGE] = _dead_letter_message()

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:algoitny:events",
        "info": {
            "title": "AlgoItny events",
            "version": DOCUMENT_VERSION,
            "description": DESCRIPTION,
            "tags": sorted(
                ({"name": f"producer:{p}"} for p in {producer_of(s) for s in specs}), key=lambda t: t["name"]
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "title": "Local Kafka",
                "description": "The single-broker Kafka of the local stack (ALGOITNY_KAFKA_BOOTSTRAP_SERVERS default).",
            },
            "production": {
                "host": "{bootstrapServers}",
                "protocol": "kafka",
                "title": "Production Kafka",
                "description": "The production cluster; its brokers are configured per deployment by "
                "ALGOITNY_KAFKA_BOOTSTRAP_SERVERS.",
                "variables": {
                    "bootstrapServers": {
                        "description": "Bootstrap servers, as set in ALGOITNY_KAFKA_BOOTSTRAP_SERVERS.",
                    }
                },
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.schemas.items())),
            "messages": messages,
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so descriptions stay readable."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render(document: dict[str, Any], fmt: str = "yaml") -> str:
    """The document as text, byte-for-byte stable for the same input."""
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    raise ValueError(f"unknown format {fmt!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the AsyncAPI document of AlgoItny's events.")
    parser.add_argument("--out", type=Path, required=True, help="file to write, e.g. docs/asyncapi.yaml")
    parser.add_argument("--format", choices=("yaml", "json"), default=None, help="default: from --out's suffix")
    parser.add_argument("--namespace", default=NAMESPACE_PLACEHOLDER, help="topic prefix (default: a placeholder)")
    args = parser.parse_args(argv)
    fmt = args.format or ("json" if args.out.suffix == ".json" else "yaml")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(build_document(args.namespace), fmt), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
