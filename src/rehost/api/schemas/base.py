"""What every response model shares: the base class, timestamps and the error body."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A response body: exactly the documented fields (additionalProperties: false)."""

    model_config = ConfigDict(extra="forbid")


def iso(value: datetime | None) -> str | None:
    """A timestamp as the API writes it: ISO 8601, UTC as Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def plain_iso(value: datetime | None) -> str | None:
    """A timestamp as `isoformat()` writes it (the transit-host routes' format)."""
    return value.isoformat() if value else None


class ErrorOut(Out):
    """The error body of every refused request (`rehost.api.errors`)."""

    code: str
    message: str
    request_id: str
    hint: str | None = None


class HealthOut(Out):
    """/healthz and /api/v1/health."""

    status: str
    version: str


class CheckOut(Out):
    """One readiness check."""

    ok: bool
    detail: str


class ReadyOut(Out):
    """/readyz (503 with the same body when a check failed)."""

    status: str
    reason: str
    checks: dict[str, CheckOut]


class Deleted(Out):
    """A deleted resource."""

    deleted: bool


class Ok(Out):
    """An acknowledged host call."""

    ok: bool


def _error(description: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": description}


# what the error table (api/errors.py) and the middleware really answer, for every route
ERRORS: dict[int | str, dict[str, object]] = {
    400: _error("InvalidParameter / InvalidStatus / Duplicate / QuotaExceeded"),
    401: _error("no or bad credentials"),
    403: _error("Forbidden: the credential may not do this"),
    404: _error("NotFound"),
    413: _error("the request body is larger than the server accepts"),
    429: _error("Throttled: too many requests or failed attempts"),
}
# FastAPI documents 422 for every route with parameters; this app answers 400 instead
UNUSED_STATUSES = ("422",)
