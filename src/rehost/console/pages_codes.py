"""激活码 / Activation codes: list with state and registered count, disable."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.errortext import error_text
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId, ActivationCodeId
from rehost.domain.models import ActivationCodeState
from rehost.services import activation

PAGE_SIZE: Final = 20
CODE_TONES: Final = {
    ActivationCodeState.UNACTIVATED: "run", ActivationCodeState.ACTIVATED: "ok",
    ActivationCodeState.EXPIRED: "idle", ActivationCodeState.DISABLED: "err",
}


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the activation code list and the disable action."""

    @router.get("/activation-codes", include_in_schema=False)
    def code_list(request: Request, page: int = 1) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        result = activation.list_codes(deps.context(request), AccountId(session.account_id),
                                       page_number=max(page, 1), page_size=PAGE_SIZE)
        return deps.renderer.page(request, "activation_codes.html", session=session,
                                  section="/activation-codes", page=result, query={},
                                  tones=CODE_TONES)

    @router.post("/activation-codes/{code_id}/disable", include_in_schema=False)
    def code_disable(request: Request, code_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t = deps.t(request)
        try:
            activation.disable_code(deps.context(request), AccountId(session.account_id),
                                    ActivationCodeId(code_id))
        except RehostError as exc:
            return deps.renderer.flash(request, redirect("/activation-codes"),
                                       ("error", f"{exc.code}: {error_text(exc, t)}"))
        return deps.renderer.flash(request, redirect("/activation-codes"),
                                   ("ok", t("codes.disabled", id=code_id)))
