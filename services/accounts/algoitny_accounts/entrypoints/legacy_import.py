"""The accounts legacy importer: ``users`` rows from the Debezium topics (see the README).

    python -m algoitny_accounts.entrypoints.legacy_import [run|pause|resume|status]

Settings: ``ALGOITNY_LEGACY_TOPIC_PREFIX`` (default ``legacy``), ``ALGOITNY_NAMESPACE``, Kafka and
DynamoDB as for the service. ``run`` consumes in group ``<namespace>.accounts.legacy``.
"""

from __future__ import annotations

from algoitny_accounts.bootstrap import build
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.legacy.importer import importer_cli

main = importer_cli("algoitny_accounts.entrypoints.legacy_import", AccountsSettings, build)

if __name__ == "__main__":
    main()
