"""The platform's error model: one catalogue of error codes, rendered as application/problem+json."""

from __future__ import annotations

from enum import Enum
from typing import Any

PROBLEM_JSON = "application/problem+json"


class ErrorCode(Enum):
    """code -> (HTTP status, title). Clients switch on ``code``; titles are for people."""

    MALFORMED_JSON = (400, "Request body is not valid JSON")
    BAD_REQUEST = (400, "Bad request")
    INVALID_CURSOR = (400, "Invalid pagination cursor")
    UNAUTHENTICATED = (401, "Authentication required")
    FORBIDDEN = (403, "Not allowed")
    NOT_FOUND = (404, "Not found")
    METHOD_NOT_ALLOWED = (405, "Method not allowed")
    CONFLICT = (409, "Conflict")
    ALREADY_EXISTS = (409, "Already exists")
    PAYLOAD_TOO_LARGE = (413, "Request body too large")
    UNSUPPORTED_MEDIA_TYPE = (415, "Unsupported media type")
    VALIDATION_FAILED = (422, "Request failed validation")
    RATE_LIMITED = (429, "Too many requests")
    INTERNAL = (500, "Internal error")
    UPSTREAM_UNAVAILABLE = (503, "A dependency is unavailable; retry later")
    MIGRATION_READ_ONLY = (503, "Read-only while the data moves from the legacy application")
    UPSTREAM_TIMEOUT = (504, "A dependency did not answer in time")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def title(self) -> str:
        return self.value[1]

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "-")


class AppError(Exception):
    """An error with a place in the catalogue; becomes a problem+json response."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        return problem_body(
            self.code, self.detail, instance=instance, request_id=request_id, errors=self.errors, **self.extra
        )


def problem_body(
    code: ErrorCode,
    detail: str,
    *,
    instance: str | None = None,
    request_id: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://errors.algoitny.dev/{code.slug}",
        "title": code.title,
        "status": code.status,
        "code": code.name,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def not_found(what: str) -> AppError:
    return AppError(ErrorCode.NOT_FOUND, f"{what} does not exist")
