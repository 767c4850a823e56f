"""The DynamoDB tables of the search-indexer service, declared once (the service's own): none.

Its consumer needs no inbox: every write goes to OpenSearch with the event's aggregate version as
an external version, so a redelivered or older event is refused by the index itself
(``service_layer/indexing.py``). The ``algoitny.tables`` entry point in the service's pyproject.toml
still publishes this empty tuple, so provisioning, backup and the infrastructure code
(algoitny_shared.tables.all_tables) know the service and find no table of it.
"""

from __future__ import annotations

from algoitny_shared.tables import TableSpec

TABLES: tuple[TableSpec, ...] = ()
