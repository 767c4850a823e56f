"""Every gateway process follows the accounts topic for revocations, outside any consumer group.

Each replica must see every revocation (a broadcast, not a work queue), so the feed (the
shared ``TopicFollower``, a FastStream subscriber) reads all partitions, commits nothing, and on
start begins at the first event that could still matter: one access-token lifetime ago. Until it
has read up to the end offsets it saw on start, the gateway reports itself not ready, so a
restarted replica never honours a token that was already signed out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

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
from algoitny_shared.follow import TopicFollower

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


class RevocationFeed(TopicFollower):
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        revocations: RevocationList,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            bootstrap,
            topic,
            self._apply_one,
            name="revocation",
            since=lambda: clock() - revocations.horizon_s,
            after_batch=lambda: revocations.prune(clock()),
        )
        self.revocations = revocations
        self.applied = 0

    def _apply_one(self, raw: bytes) -> None:
        if apply(self.revocations, raw):
            self.applied += 1
