"""The published contract of the legacy migration.

The legacy Django application's PostgreSQL tables are captured by Debezium into
``<prefix>.public.<table>`` topics. Each owning service imports its own entities from
them; the migration service verifies every row. What crosses those boundaries is written
here once: the tables and their topics (:mod:`.tables`), the typed rows (:mod:`.rows`),
a captured change (:mod:`.changes`), the deterministic identity of a migrated row
(:mod:`.identity`), the canonical form verify compares (:mod:`.canonical`) and the
internal API services expose for verification (:mod:`.api`).
"""
