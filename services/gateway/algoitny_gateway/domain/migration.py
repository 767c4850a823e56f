"""Migration mode (issue 16): which routes write data the legacy database owns (no I/O).

While the migration's phase keeps writes closed (``migrating``, ``rolling_back``, ``rolled_back``:
algoitny_shared.migration_phase), the gateway refuses these routes with 503 + Retry-After and the
reason ``migration_read_only``: a write the platform accepted then would never reach the legacy
database, which still owns the data, and be lost at cutover. Reads stay open, and so does signing
in (legacy passwords), refreshing and ending a session: sessions are the platform's own data.

Refused: every route that is not a read (POST/PUT/PATCH/DELETE), and metered reads (GET of a
problem's hints charges the daily quota, i.e. writes a usage log), except ``OPEN_DURING_MIGRATION``.
"""

from __future__ import annotations

from dataclasses import dataclass

from algoitny_gateway.domain.routes import API, Route
from algoitny_shared.migration_phase import DEFAULT_PHASE, writes_open

# Writes that touch only the platform's own data (sessions, consents the legacy schema has no
# column for), so they stay open in migration mode.
OPEN_DURING_MIGRATION: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", f"{API}/auth/login"),
        ("POST", f"{API}/auth/google"),
        ("POST", f"{API}/auth/refresh"),
        ("POST", f"{API}/auth/logout"),
        ("POST", f"{API}/me/consents"),
    }
)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes_legacy_data(route: Route) -> bool:
    """True when the route is refused while the legacy database owns the data."""
    if (route.method, route.public_path) in OPEN_DURING_MIGRATION:
        return False
    return route.method not in READ_METHODS or route.metered is not None


@dataclass
class PhaseView:
    """The latest phase the gateway has read (the highest version wins; redelivery is harmless)."""

    phase: str = DEFAULT_PHASE
    version: int = 0
    changed_at: str | None = None

    def apply(self, phase: str, version: int, changed_at: str | None) -> bool:
        if version <= self.version:
            return False
        self.phase, self.version, self.changed_at = phase, version, changed_at
        return True

    @property
    def writes_open(self) -> bool:
        return writes_open(self.phase)
