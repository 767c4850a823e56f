"""Who may do what with problems, test sets and generation jobs (no I/O).

* Admins manage every problem and job.
* Registrars (a plan that may register problems) manage the problems they created and the jobs
  they started; nobody else's drafts, reference solutions, hidden test cases or programs.
* Everyone reads completed problems and their samples; hidden test cases (with their expected
  output) only reach the problem's managers. A submitter sees the inputs and expected outputs of
  the tests they failed in their own execution result (executions service), not here.
* A registrar creates at most their plan's ``max_registered_problems`` (-1: unlimited).
"""

from __future__ import annotations

from typing import Protocol

from algoitny_shared.errors import AppError, ErrorCode

UNLIMITED = -1


class Identity(Protocol):
    """The caller as algoitny_shared.identity.Identity describes it (no web framework here)."""

    @property
    def user_id(self) -> str | None: ...

    @property
    def is_admin(self) -> bool: ...

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def may_register_problems(self) -> bool: ...


def is_registrar(identity: Identity) -> bool:
    """Admins and signed-in users whose plan may register problems."""
    return identity.may_register_problems


def manages(identity: Identity, created_by: str | None) -> bool:
    """Admins manage everything; a registrar only what they created."""
    if identity.is_admin:
        return True
    return is_registrar(identity) and identity.user_id is not None and created_by == identity.user_id


def require_registrar(identity: Identity) -> None:
    if not identity.is_authenticated:
        raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in as an admin or registrar to do this")
    if not is_registrar(identity):
        raise AppError(ErrorCode.FORBIDDEN, "Only admins and registrars can do this")


def require_manager(identity: Identity, created_by: str | None, what: str) -> None:
    """403 unless ``identity`` manages the thing ``created_by`` made (callers hide what the caller
    may not even see with a 404 before this)."""
    require_registrar(identity)
    if not manages(identity, created_by):
        raise AppError(ErrorCode.FORBIDDEN, f"Only its registrar and admins can change {what}", reason="not_owner")


def owner_filter(identity: Identity) -> str | None:
    """The creator a listing of drafts, deleted problems or jobs is narrowed to (None: all)."""
    return None if identity.is_admin else identity.user_id


def check_problem_cap(cap: int, created: int) -> None:
    """A registrar's plan cap on the problems they have registered (and not hard-deleted)."""
    if cap != UNLIMITED and created >= cap:
        raise AppError(
            ErrorCode.FORBIDDEN,
            f"Your plan allows {cap} registered problem(s); you have {created}",
            reason="max_problems",
            limit=cap,
        )
