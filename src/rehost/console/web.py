"""Per-request plumbing shared by the console pages: form reading, login guard, CSRF."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from rehost.api.authorization import console_action
from rehost.console.i18n import Translator
from rehost.console.render import Renderer, current_path, translator_for
from rehost.console.session import SESSION_COOKIE, Session, SessionCodec, csrf_matches
from rehost.domain import authz
from rehost.services import console_login
from rehost.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class FormFields:
    """Submitted form fields, keeping repeated names (checkbox lists)."""

    items: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str = "") -> str:
        """First value of ``name`` (stripped), or ``default``."""
        return next((v.strip() for k, v in self.items if k == name), default)

    def getlist(self, name: str) -> list[str]:
        """Every non-empty value of ``name``."""
        return [v.strip() for k, v in self.items if k == name and v.strip()]

    def has(self, name: str) -> bool:
        """Whether ``name`` was submitted at all."""
        return any(k == name for k, _ in self.items)


async def read_form(request: Request) -> FormFields:
    """Read an urlencoded/multipart body into FormFields (files are ignored)."""
    form = await request.form()
    return FormFields(tuple((k, v) for k, v in form.multi_items() if isinstance(v, str)))


Form = Annotated[FormFields, Depends(read_form)]


def safe_next(path: str | None, default: str = "/sources") -> str:
    """Allow only local absolute paths as redirect targets."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def redirect(path: str) -> RedirectResponse:
    """303 See Other to a local path (the POST-redirect-GET pattern)."""
    return RedirectResponse(safe_next(path), status_code=303)


@dataclass(frozen=True, slots=True)
class ConsoleDeps:
    """What every page needs: the service context, the renderer and the cookie codec."""

    context: Callable[[Request], ServiceContext]
    renderer: Renderer

    def codec(self, request: Request) -> SessionCodec:
        """Cookie signer keyed by the server's master key."""
        return SessionCodec(self.context(request).master_key)

    def session(self, request: Request) -> Session | None:
        """The logged-in session, or None."""
        cookie = request.cookies.get(SESSION_COOKIE)
        found = self.codec(request).read_session(cookie, now=time.time())
        if found is None:
            return None
        # a cookie without a server-side session (or a revoked one) is no session
        who = console_login.principal(self.context(request), found.session_id, found.account_id)
        if who is None:
            return None
        return replace(found, user_id=who.user_id, role=who.role.value)

    def refusal(self, request: Request, session: Session) -> Response | None:
        """A 403 page when the session's role may not do this request (`rehost.domain.authz`)."""
        action = console_action(request)
        if authz.is_allowed(authz.Role(session.role), action):
            return None
        error = authz.unauthorized(authz.Role(session.role), action)
        t = translator_for(request)
        return self.renderer.page(
            request, "message.html", session=session, status_code=403,
            message=f"{error.code}: {error.localized(t.locale)}",
        )

    def login_redirect(self, request: Request) -> RedirectResponse:
        """Send an anonymous visitor to the login page, remembering where they were."""
        return RedirectResponse(f"/login?next={quote(current_path(request))}", status_code=303)

    def guard(self, request: Request) -> Session | Response:
        """Session for a GET page, or a redirect to the login page."""
        return self.session(request) or self.login_redirect(request)

    def guard_post(self, request: Request, form: FormFields) -> Session | Response:
        """Session for a form POST whose CSRF token matches, else a redirect or a 403 page."""
        session = self.session(request)
        if session is None:
            return self.login_redirect(request)
        if not csrf_matches(session, form.get("csrf_token")):
            t = translator_for(request)
            return self.renderer.page(
                request, "message.html", session=session, status_code=403,
                message=t("csrf.failed"),
            )
        return self.refusal(request, session) or session

    @staticmethod
    def t(request: Request) -> Translator:
        """The request's translator."""
        return translator_for(request)
