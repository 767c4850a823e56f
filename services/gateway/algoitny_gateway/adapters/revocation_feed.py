"""Every gateway process follows the accounts topic for revocations, outside any consumer group.

Each replica must see every revocation (a broadcast, not a work queue), so the feed assigns
itself all partitions, commits nothing, and on start seeks to the first event that could
still matter: one access-token lifetime ago. Until it has read up to the end offsets it saw
on start, the gateway reports itself not ready, so a restarted replica never honours a
token that was already signed out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from algoitny_gateway.domain.revocations import CHANGED, DEACTIVATED, SESSIONS_ENDED, RevocationList
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    SessionRevoked,
    UserDeactivated,
    UserPlanChanged,
    UserRoleChanged,
    UserSessionsRevoked,
)
from algoitny_shared.events.registry import UnknownEventType
from algoitny_shared.replay import topic_partitions

log = logging.getLogger(__name__)


def apply(revocations: RevocationList, raw: bytes) -> bool:
    """Apply one accounts event; True when it revoked something."""
    try:
        envelope = EventEnvelope.from_bytes(raw)
        payload = REGISTRY.decode(envelope)
    except (UnknownEventType, ValidationError, ValueError):
        return False  # the accounts consumers dead-letter what nobody can read
    if isinstance(payload, SessionRevoked):
        revocations.revoke_session(payload.session_id, payload.revoked_at.timestamp(), payload.reason)
        return True
    # User events carry the user's version after the change: older tokens lose their powers.
    version = envelope.aggregate_version
    if isinstance(payload, UserDeactivated):
        revocations.revoke_user(payload.user_id, payload.deactivated_at.timestamp(), version, DEACTIVATED)
        return True
    if isinstance(payload, UserRoleChanged | UserPlanChanged):
        revocations.revoke_user(payload.user_id, payload.changed_at.timestamp(), version, CHANGED)
        return True
    if isinstance(payload, UserSessionsRevoked):
        revocations.revoke_user(payload.user_id, payload.revoked_at.timestamp(), version, SESSIONS_ENDED)
        return True
    return False


class RevocationFeed:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        revocations: RevocationList,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self.revocations = revocations
        self._clock = clock
        self.caught_up = asyncio.Event()
        self.applied = 0

    async def ready(self) -> None:
        """Readiness check: raises until the feed has read what was there when it started."""
        if not self.caught_up.is_set():
            raise ConnectionError("the revocation feed has not caught up with the accounts topic yet")

    async def run(self) -> None:
        """Follow the topic for ever, reconnecting after failures."""
        backoff = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("revocation feed interrupted (%s); reconnecting in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await topic_partitions(consumer, self.topic, timeout_s=30)
            consumer.assign(partitions)
            since_ms = int((self._clock() - self.revocations.horizon_s) * 1000)
            starts = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
            pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
            if not pending:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batch.values():
                    for record in records:
                        if record.value is not None and apply(self.revocations, record.value):
                            self.applied += 1
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                if not pending:
                    self.caught_up.set()
                self.revocations.prune(self._clock())
        finally:
            await consumer.stop()
