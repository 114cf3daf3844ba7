"""Which authorization action a REST request is: method + route template → `authz.Action`.

The decision itself is `rehost.domain.authz`; this table only says what each route touches.
Reads are GET/HEAD; every other method writes. A route not listed here is migration work.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request

from rehost.api.access import route_template
from rehost.domain.authz import Action, Area, Verb

ADMINISTRATION_PREFIXES: Final = (
    "/api/v1/users", "/api/v1/regions", "/api/v1/transit-hosts", "/api/v1/transit-host-codes",
)
# the caller's own password; the credentials confirm only forgets the first-start file
SELF_PREFIXES: Final = ("/api/v1/me", "/api/v1/credentials")
# the console's pages: the same areas under the console's own paths
CONSOLE_ADMINISTRATION: Final = ("/users", "/keys", "/regions", "/transit-hosts")
CONSOLE_SELF: Final = ("/me", "/logout")
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def action_of(method: str, route_path: str, *, administration: tuple[str, ...] = (
        ADMINISTRATION_PREFIXES), own: tuple[str, ...] = SELF_PREFIXES) -> Action:
    """The action of `method route_path` (e.g. `POST /api/v1/users`)."""
    if _under(route_path, own):
        area = Area.SELF
    elif _under(route_path, administration):
        area = Area.ADMINISTRATION
    else:
        area = Area.MIGRATION
    verb = Verb.READ if method.upper() in READ_METHODS else Verb.WRITE
    return Action(name=f"{method.upper()} {route_path}", area=area, verb=verb)


def _route_path(request: Request) -> str:
    # the full template (`/api/v1/users/{user_id}`): an included route object lacks its prefix
    return route_template(request.scope)


def request_action(request: Request) -> Action:
    """The action of the REST request being served (its route template, not the raw path)."""
    return action_of(request.method, _route_path(request))


def console_action(request: Request) -> Action:
    """The action of the console request being served."""
    return action_of(request.method, _route_path(request), administration=CONSOLE_ADMINISTRATION,
                     own=CONSOLE_SELF)
