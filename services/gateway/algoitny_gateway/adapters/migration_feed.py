"""Every gateway process follows the migration topic from its start, outside any consumer group.

The topic holds a handful of ``MigrationPhaseChanged`` events; each replica reads all of them
(a broadcast, through the shared ``TopicFollower``), keeps the highest version, and reports
itself not ready until it has read up to the end offsets it saw on start, so a restarted
replica never opens writes the phase keeps closed.
No event at all (no migration configured) leaves the phase ``open``.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from algoitny_gateway.domain.migration import PhaseView
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import MigrationPhaseChanged
from algoitny_shared.events.registry import UnknownEventType
from algoitny_shared.follow import TopicFollower

log = logging.getLogger(__name__)


def apply(view: PhaseView, raw: bytes) -> bool:
    try:
        payload = REGISTRY.decode(EventEnvelope.from_bytes(raw))
    except (UnknownEventType, ValidationError, ValueError):
        return False
    if not isinstance(payload, MigrationPhaseChanged):
        return False
    changed = view.apply(payload.phase, payload.version, payload.changed_at.isoformat())
    if changed:
        log.info(
            "migration phase %s (version %d): writes %s",
            payload.phase,
            payload.version,
            "open" if view.writes_open else "refused",
        )
    return changed


class MigrationPhaseFeed(TopicFollower):
    def __init__(self, bootstrap: str, topic: str, view: PhaseView | None = None) -> None:
        self.view = view or PhaseView()
        super().__init__(bootstrap, topic, lambda raw: apply(self.view, raw), name="migration-phase", max_records=100)
