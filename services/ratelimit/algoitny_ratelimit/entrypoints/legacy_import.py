"""The ratelimit legacy importer: ``subscription_plans``, users' plans and ``usage_logs`` rows
from the Debezium topics (see the README).

    python -m algoitny_ratelimit.entrypoints.legacy_import [run|pause|resume|status]

Settings: ``ALGOITNY_LEGACY_TOPIC_PREFIX`` (default ``legacy``), ``ALGOITNY_NAMESPACE``, Kafka and
DynamoDB as for the service. ``run`` consumes in group ``<namespace>.ratelimit.legacy``.
"""

from __future__ import annotations

from algoitny_ratelimit.bootstrap import build
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.legacy.importer import importer_cli

main = importer_cli("algoitny_ratelimit.entrypoints.legacy_import", RatelimitSettings, build)

if __name__ == "__main__":
    main()
