"""Refunds of executions the judge could not judge, from ``executions.ExecutionCompleted``."""

from __future__ import annotations

import logging
from typing import Any

from algoitny_ratelimit.domain.quota import RefundRequest
from algoitny_ratelimit.service_layer.quotas import QuotaService
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import ExecutionCompleted

log = logging.getLogger(__name__)


class ExecutionRefunds:
    """Gives back the charge of an execution the judge could not judge (verdict IE).

    The gateway refunds what fails while it waits (5xx, unreachable); an IE found later by a
    judge worker arrives here as an ``executions.ExecutionCompleted`` event carrying the
    charge the gateway made. A refund happens at most once (the charge item remembers it),
    so a redelivered event is harmless.
    """

    def __init__(self, quotas: QuotaService) -> None:
        self._quotas = quotas

    async def on_execution_completed(self, envelope: EventEnvelope, payload: ExecutionCompleted) -> None:
        if payload.verdict != "IE" or payload.charge is None or payload.user_id is None:
            return
        try:
            await self._quotas.refund(
                RefundRequest(
                    user_id=payload.user_id,
                    action="execution",
                    request_id=payload.charge.request_id,
                    day=payload.charge.day,
                    reason=f"internal error judging execution {payload.execution_id}"[:200],
                )
            )
        except AppError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            log.warning("no charge to refund for execution %s", payload.execution_id)

    def handlers(self) -> dict[str, Any]:
        return {"executions.ExecutionCompleted": self.on_execution_completed}
