"""迁移源 / Sources: list with search, details, delete, and the import panel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rehost.agentdist.pyz import agent_artefact
from rehost.console.errortext import error_text
from rehost.console.filters import bad_filter, choice
from rehost.console.pages_tags import NO_MATCH, tagged_ids
from rehost.console.web import ConsoleDeps, Form, redirect
from rehost.domain.errors import NotFound, RehostError
from rehost.domain.ids import PREFIX_SOURCE, AccountId, has_prefix
from rehost.domain.models import NewActivationCode, Source
from rehost.domain.states import SourceState
from rehost.domain.tags import ResourceType
from rehost.services import activation, sources, tags
from rehost.services.context import ServiceContext

PAGE_SIZE = 20


def import_command(endpoint: str, code: NewActivationCode) -> str:
    """The agent command shown once after an activation code is created."""
    return (f"rehost agent import --endpoint {endpoint} --code-id {code.code.id} "
            f"--code {code.secret}")


def install_command(endpoint: str, code: NewActivationCode) -> str:
    """The one-line installer (`GET /agent/install.sh`); https pins the server CA file."""
    pin = ("--cacert ca.pem ", " --ca-file ca.pem") if endpoint.startswith("https:") else ("", "")
    return (f"curl -fsS {pin[0]}{endpoint}/agent/install.sh | sh -s -- "
            f"--code {code.code.id}:{code.secret}{pin[1]}")


def _search(ctx: ServiceContext, account_id: AccountId, q: str, page: int,
            state: SourceState | None = None, tag: str = "") -> Any:
    ids = tagged_ids(ctx, account_id, ResourceType.SOURCE, tag)
    if has_prefix(q, PREFIX_SOURCE):
        # SMC matches IDs exactly; anything that looks like an id is searched as one
        ids = [q] if ids is None or q in ids else [NO_MATCH]
        return sources.describe_sources(ctx, account_id, source_ids=ids, state=state,
                                        page_number=page, page_size=PAGE_SIZE)
    return sources.describe_sources(ctx, account_id, source_ids=ids, name=q or None, state=state,
                                    page_number=page, page_size=PAGE_SIZE)


def _index(disk: dict[str, object]) -> int:
    index = disk.get("index", 0)
    return index if isinstance(index, int) else 0


def disk_details(source: Source) -> list[dict[str, object]]:
    """Disks from the agent's inventory (partitions included), falling back to the summary."""
    reported = source.inventory.get("disks")
    if isinstance(reported, list) and reported:
        return sorted((d for d in reported if isinstance(d, dict)), key=_index)
    return [
        {"index": d.index, "path": d.path, "size_bytes": d.size_bytes,
         "used_bytes": d.used_bytes, "partition_table": "", "partitions": []}
        for d in source.disks
    ]


def register(router: APIRouter, deps: ConsoleDeps) -> None:
    """Add the source pages."""

    def render_list(request: Request, q: str, page: int, new_code: NewActivationCode | None,
                    account_id: AccountId, session: Any, state: str = "",
                    tag: str = "") -> Response:
        t = deps.t(request)
        chosen = choice(SourceState, state)
        if chosen is False:
            return bad_filter(deps, request, session, name="state", value=state,
                              allowed=[t(f"source.state.{s.value}")
                                       for s in SourceState], back="/sources")
        result = _search(deps.context(request), account_id, q, max(page, 1), chosen, tag)
        row_tags = tags.tags_of(deps.context(request), account_id, ResourceType.SOURCE,
                                [s.id for s in result.items])
        endpoint = str(request.base_url).rstrip("/")
        return deps.renderer.page(
            request, "sources.html", session=session, section="/sources", page=result, q=q,
            query={"q": q, "state": state, "tag": tag}, new_code=new_code,
            states=list(SourceState), state_filter=state, tag=tag, row_tags=row_tags,
            import_command=import_command(endpoint, new_code) if new_code else "",
            install_command=install_command(endpoint, new_code) if new_code else "",
            agent_sha256=agent_artefact().sha256 if new_code else "",
        )

    @router.get("/sources", include_in_schema=False)
    def source_list(request: Request, q: str = "", page: int = 1, state: str = "",
                    tag: str = "") -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        return render_list(request, q.strip(), page, None, AccountId(session.account_id), session,
                           state, tag.strip())

    @router.post("/activation-codes", include_in_schema=False)
    def create_code(request: Request, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        account_id = AccountId(session.account_id)
        code = activation.create_code(deps.context(request), account_id)
        # rendered directly (not redirected): the secret is shown once and never stored here
        return render_list(request, "", 1, code, account_id, session)

    @router.get("/sources/{source_id}", include_in_schema=False)
    def source_detail(request: Request, source_id: str) -> Response:
        session = deps.guard(request)
        if isinstance(session, Response):
            return session
        try:
            source = sources.get_source(deps.context(request), AccountId(session.account_id),
                                        source_id)
        except NotFound as exc:
            return deps.renderer.page(request, "message.html", session=session, status_code=404,
                                      message=error_text(exc, deps.t(request)))
        source_tags = tags.tags_of(deps.context(request), AccountId(session.account_id),
                                   ResourceType.SOURCE, [source.id])[source.id]
        return deps.renderer.page(request, "source_detail.html", session=session,
                                  section="/sources", source=source, disks=disk_details(source),
                                  source_tags=source_tags)

    @router.post("/sources/{source_id}/delete", include_in_schema=False)
    def source_delete(request: Request, source_id: str, form: Form) -> Response:
        session = deps.guard_post(request, form)
        if isinstance(session, Response):
            return session
        t = deps.t(request)
        try:
            sources.delete_source(deps.context(request), AccountId(session.account_id), source_id)
        except RehostError as exc:
            return deps.renderer.flash(request, redirect(f"/sources/{source_id}"),
                                       ("error", f"{exc.code}: {error_text(exc, t)}"))
        return deps.renderer.flash(request, redirect("/sources"),
                                   ("ok", t("source.deleted", id=source_id)))
