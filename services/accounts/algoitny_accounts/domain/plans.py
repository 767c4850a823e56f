"""Plans as accounts knows them, from ratelimit's plan events (no I/O).

Accounts copies each plan's limits and flags into the users on it (``User.plan_limits``),
so a token can carry the may-register flag without asking ratelimit. ``rev`` is the version
of the plan event applied last: an older event never overwrites a newer one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# What a user carries of their plan.
LIMIT_FIELDS = ("daily_limits", "may_register_problems", "may_view_all_problems", "max_registered_problems")


class PlanCopy(BaseModel):
    plan_id: str
    name: str = ""
    daily_limits: dict[str, int] = {}
    may_register_problems: bool = False
    may_view_all_problems: bool = False
    max_registered_problems: int = 0
    active: bool = True
    deleted: bool = False
    rev: int = 0

    @property
    def exists(self) -> bool:
        return not self.deleted

    def limits(self) -> dict[str, Any]:
        return self.model_dump(include=set(LIMIT_FIELDS))
