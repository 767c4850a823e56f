"""Attach generated hints to the history item of the execution they were asked for."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import HintGenerated

log = logging.getLogger(__name__)


class HintTarget(Protocol):
    async def update(self, execution_id: str, fields: dict[str, Any], *, unless_completed: bool = True) -> bool: ...


class HintAttacher:
    def __init__(self, history: HintTarget) -> None:
        self._history = history

    async def on_hint_generated(self, envelope: EventEnvelope, payload: HintGenerated) -> None:
        """Setting the same hints again is harmless, so redelivery needs no inbox."""
        if payload.kind != "execution" or not payload.execution_id:
            return
        hints = [f"{h.title}: {h.text}" if h.title else h.text for h in sorted(payload.hints, key=lambda h: h.level)]
        found = await self._history.update(
            payload.execution_id, {"hints": hints, "hints_source": payload.source}, unless_completed=False
        )
        if not found:
            log.warning("hints for an unknown execution", extra={"execution_id": payload.execution_id})

    def handlers(self) -> dict[str, Any]:
        return {"hints.HintGenerated": self.on_hint_generated}
