"""The DynamoDB tables of the search-indexer service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import TableSpec, inbox_table

SEARCH_INDEXER_INBOX = inbox_table("search-indexer")

TABLES: tuple[TableSpec, ...] = (SEARCH_INDEXER_INBOX,)
