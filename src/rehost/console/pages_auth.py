"""Login, logout and the language switch."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rehost.console.errortext import error_text
from rehost.console.i18n import LANG_COOKIE, LOCALES
from rehost.console.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL_S
from rehost.console.web import ConsoleDeps, Form, redirect, safe_next
from rehost.domain.errors import Throttled, Unauthenticated
from rehost.services import bootstrap, console_login


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    deps: ConsoleDeps, request: Request, *, next_path: str, account: str = "",
    error: str = "", status_code: int = 200,
) -> Response:
    cookie, token = deps.codec(request).issue_login_token()
    response = deps.renderer.page(
        request, "login.html", session=None, status_code=status_code, login_token=token,
        next_path=safe_next(next_path), account=account, error=error,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, cookie, max_age=3600, path="/", httponly=True, samesite="strict",
        secure=_secure(request),
    )
    return response


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the authentication routes."""

    @router.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/sources") -> Response:
        if deps.session(request) is not None:
            return redirect(next)
        return _login_page(deps, request, next_path=next)

    @router.post("/login", include_in_schema=False)
    def login_submit(request: Request, form: Form) -> Response:
        t = deps.t(request)
        account, next_path = form.get("account"), form.get("next", "/sources")
        if not deps.codec(request).check_login_token(
            request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf_token")
        ):
            return _login_page(deps, request, next_path=next_path, account=account,
                               error=t("login.expired"), status_code=400)
        ctx = deps.context(request)
        address = request.client.host if request.client else ""
        try:
            who = console_login.login(ctx, account, form.get("password"), address=address)
        except Throttled as exc:
            page = _login_page(deps, request, next_path=next_path, account=account,
                               error=error_text(exc, t), status_code=429)
            page.headers["Retry-After"] = str(exc.retry_after_s)
            return page
        except Unauthenticated:
            return _login_page(deps, request, next_path=next_path, account=account,
                               error=t("login.failed"), status_code=401)
        bootstrap.forget_admin_credentials(ctx)
        session_id = console_login.open_session(ctx, who, ttl_s=SESSION_TTL_S)
        value = deps.codec(request).issue_session(account_id=who.account_id, account_name=account,
                                                  now=time.time(), session_id=session_id)
        response = redirect(next_path)
        response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_TTL_S, path="/",
                            httponly=True, samesite="lax", secure=_secure(request))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @router.post("/logout", include_in_schema=False)
    def logout(request: Request, form: Form) -> Response:
        guarded = deps.guard_post(request, form)
        if isinstance(guarded, Response):
            return guarded
        console_login.revoke(deps.context(request), guarded.session_id)
        response = redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/lang/{locale}", include_in_schema=False)
    def switch_language(locale: str, next: str = "/sources") -> Response:
        response = redirect(next)
        if locale in LOCALES:
            response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, path="/",
                                samesite="lax")
        return response

    @router.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        return RedirectResponse("/sources" if deps.session(request) else "/login",
                                status_code=303)
