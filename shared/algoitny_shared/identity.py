"""Who is calling: the gateway authenticates and forwards identity in internal headers.

Services sit on the internal network behind the gateway, which strips any client-sent
copies of these headers before setting them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header
from pydantic import BaseModel

USER_HEADER = "x-algoitny-user"
ROLE_HEADER = "x-algoitny-role"
INTERNAL_HEADERS = (USER_HEADER, ROLE_HEADER)

Role = Literal["anonymous", "user", "admin"]


class Identity(BaseModel):
    user_id: str | None = None
    role: Role = "anonymous"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _identity(
    x_algoitny_user: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_algoitny_role: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Identity:
    role: Role = x_algoitny_role if x_algoitny_role in ("user", "admin") else "anonymous"  # type: ignore[assignment]
    return Identity(user_id=x_algoitny_user, role=role)


CurrentIdentity = Annotated[Identity, Depends(_identity)]
