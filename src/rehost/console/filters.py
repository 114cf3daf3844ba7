"""List filters given in the query string: a known value, nothing, or a clear refusal."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Literal, TypeVar

from fastapi import Request
from fastapi.responses import Response

from rehost.console.session import Session
from rehost.console.web import ConsoleDeps

E = TypeVar("E", bound=Enum)


def choice(kind: type[E], value: str) -> E | Literal[False] | None:
    """The enum member named by ``value``; None when empty; False when it names none."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        return False


def bad_filter(deps: ConsoleDeps, request: Request, session: Session, *, name: str,
               value: str, allowed: Sequence[str], back: str) -> Response:
    """A 400 page that names the filter, the bad value and the values it accepts."""
    t = deps.t(request)
    return deps.renderer.page(
        request, "message.html", session=session, status_code=400, back=back,
        message=t("filter.bad_value", name=name, value=value, allowed=", ".join(allowed)))
