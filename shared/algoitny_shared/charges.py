"""The quota charge a metered request made at the gateway, as the services receive it.

The gateway sets ``x-algoitny-charge: <UTC day> <charge key>`` on metered routes (never a
client: it drops any copy a client sends), so a service can have the charge refunded when
the operation fails later through no fault of the user.
"""

from __future__ import annotations

import re

from algoitny_shared.errors import AppError, ErrorCode

CHARGE_HEADER = "x-algoitny-charge"
_CHARGE = re.compile(r"^(\d{4}-\d{2}-\d{2}) ([A-Za-z0-9_.:-]{8,128})$")


def format_charge(day: str, key: str) -> str:
    return f"{day} {key}"


def parse_charge(value: str | None) -> tuple[str, str] | None:
    """(day, charge key), or None when the request was not charged (e.g. admins)."""
    if not value:
        return None
    match = _CHARGE.match(value.strip())
    if match is None:
        raise AppError(ErrorCode.BAD_REQUEST, f"Malformed {CHARGE_HEADER} header")
    return match.group(1), match.group(2)
