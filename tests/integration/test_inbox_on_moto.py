from __future__ import annotations

import uuid
from typing import Any

import pytest

from algoitny_ratelimit.adapters.tables import RATELIMIT_INBOX
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.inbox import Inbox
from algoitny_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_inbox_marks_once_and_remembers(provisioned: dict[str, Any]) -> None:
    settings = ServiceSettings()
    client = dynamodb(settings)
    inbox = Inbox(client, RATELIMIT_INBOX, settings.namespace)
    event_id = str(uuid.uuid4())
    assert not await inbox.seen("c", event_id)
    assert await inbox.mark("c", event_id)
    assert not await inbox.mark("c", event_id)  # a concurrent duplicate loses the conditional put
    assert await inbox.seen("c", event_id)
    assert not await inbox.seen("other-consumer", event_id)
    # In a transaction, the same conditional put cancels a duplicate's state change.
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[inbox.put_request("c", event_id)])
