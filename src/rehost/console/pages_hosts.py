"""中转主机 / Transit hosts: registered receivers per region, online state, revoke and delete."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.errortext import error_text
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId
from rehost.services import transit_hosts

HOST_TONES: Final = {transit_hosts.ONLINE: "ok", transit_hosts.OFFLINE: "err",
                     transit_hosts.REVOKED: "idle"}
_ACTIONS: Final = ("revoke", "delete")


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the transit hosts list and its actions."""

    @router.get("/transit-hosts", include_in_schema=False)
    def host_list(request: Request) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        hosts = transit_hosts.list_hosts(deps.context(request), AccountId(session.account_id))
        return deps.renderer.page(request, "transit_hosts.html", session=session,
                                  section="/transit-hosts", hosts=hosts, tones=HOST_TONES)

    @router.post("/transit-hosts/{host_id}/{action}", include_in_schema=False)
    def host_action(request: Request, host_id: str, action: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t, back = deps.t(request), redirect("/transit-hosts")
        if action not in _ACTIONS:
            return deps.renderer.flash(request, back, ("error", t("hosts.bad_action",
                                                                  action=action)))
        ctx, account_id = deps.context(request), AccountId(session.account_id)
        try:
            if action == "revoke":
                transit_hosts.revoke_host(ctx, account_id, host_id)
            else:
                transit_hosts.delete_host(ctx, account_id, host_id)
        except RehostError as exc:
            message = f"{exc.code}: {error_text(exc, t)}"
            return deps.renderer.flash(request, back, ("error", message))
        return deps.renderer.flash(request, back, ("ok", t(f"hosts.done.{action}", id=host_id)))
