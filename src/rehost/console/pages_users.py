"""用户与 AccessKey / Users and keys: list, create, role, delete, reset; keys (secret once).

Role checks are not here: `ConsoleDeps.guard_post` asks `rehost.domain.authz` for every POST.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.console.session import Session
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.authz import Role, parse_role
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId
from rehost.domain.models import NewAccessKey
from rehost.services import access_keys, users

ROLE_TONES = {Role.ADMIN: "err", Role.OPERATOR: "run", Role.READ_ONLY: "idle"}


def _act(deps: ConsoleDeps, request: Request, back: str, ok: str,
         work: Callable[[AccountId], object]) -> Response:
    """Run one change for the session's account; flash the result and go `back`."""
    session = deps.session(request)
    assert session is not None  # guard_post ran first
    t = deps.t(request)
    try:
        work(AccountId(session.account_id))
    except RehostError as exc:
        return deps.renderer.flash(request, redirect(back),
                                   ("error", f"{exc.code}: {exc.localized(t.locale)}"))
    return deps.renderer.flash(request, redirect(back), ("ok", ok))


def _user_pages(router: APIRouter, deps: ConsoleDeps) -> None:
    @router.get("/users", include_in_schema=False)
    def user_list(request: Request) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        rows = users.list_users(deps.context(request), AccountId(session.account_id))
        return deps.renderer.page(request, "users.html", session=session, section="/users",
                                  rows=rows, roles=list(Role), tones=ROLE_TONES)

    @router.post("/users", include_in_schema=False)
    def user_create(request: Request, form: Form) -> Response:
        guarded = deps.guard_post(request, form)
        if isinstance(guarded, Response):
            return guarded
        name = form.get("name")
        return _act(deps, request, "/users", deps.t(request)("users.created", name=name),
                    lambda a: users.create_user(
                        deps.context(request), a, name=name, role=parse_role(form.get("role")),
                        password=form.get("password")))

    @router.post("/users/{user_id}/role", include_in_schema=False)
    def user_role(request: Request, user_id: str, form: Form) -> Response:
        guarded = deps.guard_post(request, form)
        if isinstance(guarded, Response):
            return guarded
        return _act(deps, request, "/users", deps.t(request)("users.role_changed"),
                    lambda a: users.set_role(deps.context(request), a, user_id,
                                             parse_role(form.get("role"))))

    @router.post("/users/{user_id}/delete", include_in_schema=False)
    def user_delete(request: Request, user_id: str, form: Form) -> Response:
        guarded = deps.guard_post(request, form)
        if isinstance(guarded, Response):
            return guarded
        return _act(deps, request, "/users", deps.t(request)("users.deleted"),
                    lambda a: users.delete_user(deps.context(request), a, user_id))

    @router.post("/users/{user_id}/password", include_in_schema=False)
    def user_reset(request: Request, user_id: str, form: Form) -> Response:
        guarded = deps.guard_post(request, form)
        if isinstance(guarded, Response):
            return guarded
        return _act(deps, request, "/users", deps.t(request)("users.password_reset"),
                    lambda a: users.reset_password(deps.context(request), a, user_id,
                                                   new_password=form.get("password")))


def _keys_page(deps: ConsoleDeps, request: Request, session: Session, user_id: str,
               created: NewAccessKey | None = None) -> Response:
    ctx, account = deps.context(request), AccountId(session.account_id)
    try:
        user = users.get_user(ctx, account, user_id)
    except RehostError as exc:
        return deps.renderer.page(request, "message.html", session=session, status_code=404,
                                  message=f"{exc.code}: {exc.localized(deps.t(request).locale)}")
    rows = access_keys.list_keys(ctx, account, user_id=user_id)
    return deps.renderer.page(request, "user_keys.html", session=session, section="/users",
                              user=user, rows=rows, created=created)


def _key_pages(router: APIRouter, deps: ConsoleDeps) -> None:
    @router.get("/users/{user_id}/keys", include_in_schema=False)
    def key_list(request: Request, user_id: str) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        return _keys_page(deps, request, session, user_id)

    @router.post("/users/{user_id}/keys", include_in_schema=False)
    def key_create(request: Request, user_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        try:  # the secret is on this page only: never in a cookie or a redirect
            new = access_keys.create_key(deps.context(request), AccountId(session.account_id),
                                         user_id)
        except RehostError as exc:
            return deps.renderer.flash(request, redirect("/users"), (
                "error", f"{exc.code}: {exc.localized(deps.t(request).locale)}"))
        return _keys_page(deps, request, session, user_id, created=new)

    @router.post("/users/{user_id}/keys/{key_id}/{verb}", include_in_schema=False)
    def key_change(request: Request, user_id: str, key_id: str, verb: str,
                   form: Form) -> Response:
        guarded = deps.guard_post(request, form)
        if isinstance(guarded, Response):
            return guarded
        back, ctx = f"/users/{user_id}/keys", deps.context(request)

        def work(account: AccountId) -> None:
            if access_keys.get_key(ctx, account, key_id).user_id != user_id or verb not in (
                    "disable", "enable", "delete"):
                raise access_keys.not_found(key_id)
            if verb == "delete":
                access_keys.delete_key(ctx, account, key_id)
            else:
                access_keys.set_enabled(ctx, account, key_id, enabled=verb == "enable")
        return _act(deps, request, back, deps.t(request)(f"keys.{verb}d", id=key_id), work)


def _me_pages(router: APIRouter, deps: ConsoleDeps) -> None:
    @router.get("/me", include_in_schema=False)
    def me(request: Request) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        user = users.get_user(deps.context(request), AccountId(session.account_id),
                              session.user_id)
        return deps.renderer.page(request, "me.html", session=session, section="/me", user=user)

    @router.post("/me/password", include_in_schema=False)
    def me_password(request: Request, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        if form.get("new_password") != form.get("confirm_password"):
            return deps.renderer.flash(request, redirect("/me"), (
                "error", deps.t(request)("me.mismatch")))
        return _act(deps, request, "/me", deps.t(request)("me.changed"),
                    lambda a: users.change_password(
                        deps.context(request), a, session.user_id,
                        old_password=form.get("old_password"),
                        new_password=form.get("new_password")))


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the users, keys and own-password pages."""
    _user_pages(router, deps)
    _key_pages(router, deps)
    _me_pages(router, deps)
