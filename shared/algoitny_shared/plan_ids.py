"""The plan ids services agree on: accounts puts every new user on ``DEFAULT_PLAN`` and seeded
admins on ``ADMIN_PLAN``; ratelimit defines these plans and never lets them be deleted (a user
would then be assigned a plan that does not exist)."""

from __future__ import annotations

DEFAULT_PLAN = "free"
ADMIN_PLAN = "admin"
SYSTEM_PLANS = frozenset({DEFAULT_PLAN, ADMIN_PLAN})
