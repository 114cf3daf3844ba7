"""Error tree → HTTP, in ONE table; JSON body `{"code","message","request_id"}` (+ `hint`)."""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rehost.domain import errors

log = logging.getLogger(__name__)
STATUS: dict[type[errors.RehostError], int] = {
    errors.InvalidParameter: 400,
    errors.Duplicate: 400,
    errors.InvalidStatus: 400,
    errors.QuotaExceeded: 400,
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Throttled: 429,
}


def status_of(exc: errors.RehostError) -> int:
    """HTTP status of an error (most specific class in STATUS wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def request_id(request: Request) -> str:
    """The request's id (set by the middleware, or made up)."""
    return str(getattr(request.state, "request_id", "") or uuid.uuid4())


def _lang(request: Request) -> str:
    return request.headers.get("accept-language", "en")


def body(exc: errors.RehostError, request: Request) -> dict[str, str]:
    """The JSON error body for `exc`."""
    out = {"code": exc.code, "message": exc.localized(_lang(request)),
           "request_id": request_id(request)}
    if exc.hint:
        out["hint"] = exc.hint
    return out


def _field_code(loc: tuple[object, ...]) -> str:
    names = [str(p) for p in loc if isinstance(p, str) and p not in ("body", "query", "path")]
    # the name may be a key the client made up: keep the code to [A-Za-z0-9]
    parts = (re.sub(r"[^A-Za-z0-9]", "", part) for part in (names[-1] if names else "").split("_"))
    code = "".join(part[:1].upper() + part[1:] for part in parts)[:64]
    return code or "Body"


def validation_error(exc: RequestValidationError) -> errors.InvalidParameter:
    """Translate a pydantic request error into `InvalidParameter.<Field>`."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = _field_code(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "extra_forbidden":
        key = repr(str(tuple(first.get("loc", ("",)))[-1]))[:80]
        return errors.invalid(field, f"Unknown field {key}; remove it or fix its spelling.",
                              f"未知字段 {key}；请删除该字段或更正拼写。")
    return errors.invalid(field, f"{field}: {msg}. Fix this field and retry.",
                          f"{field}：取值无效（{msg}）。请修改该字段后重试。")


def internal_error() -> errors.RehostError:
    """The error shown for an unexpected failure (details stay in the server log)."""
    return errors.RehostError(
        "InternalError",
        "An unexpected error occurred; nothing was changed by the failed step. Retry, and "
        "report the request id if it persists.",
        "发生意外错误，失败的步骤未做任何更改。请重试；如仍失败，请提供请求 ID。",
    )


def nul_in_url(path: str, query: str) -> errors.InvalidParameter | None:
    """`InvalidParameter.<Field>` when the (decoded) path or a query value holds a NUL byte."""
    if "\x00" in path:
        return _nul_error("Path")
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return _nul_error(_field_code((key.replace("\x00", ""),)))
    return None


def _nul_error(field: str) -> errors.InvalidParameter:
    return errors.invalid(field, f"{field} contains a NUL character (\\0); remove it.",
                          f"{field} 含有 NUL 字符（\\0）；请删除该字符。")


def _request_id_of(request: Request) -> str:
    rid = request.headers.get("x-request-id", "")
    # echo only sane ids: they go back in a header and into logs
    ok = 0 < len(rid) <= 128 and rid.isascii() and rid.isprintable()
    return rid if ok else str(uuid.uuid4())


def install(app: FastAPI) -> None:
    """Register the handlers and the request-id middleware on `app`."""

    @app.middleware("http")
    async def _request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.request_id = _request_id_of(request)
        bad = None
        if request.url.path.startswith("/api/"):  # the SMC endpoint reports in its own shape
            bad = nul_in_url(request.url.path, request.url.query)
        if bad is not None:
            response = JSONResponse(body(bad, request), status_code=400)
        else:
            response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request %s failed", request_id(request), exc_info=exc)
        return JSONResponse(body(internal_error(), request), status_code=500)

    @app.exception_handler(errors.RehostError)
    async def _rehost(request: Request, exc: errors.RehostError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="rehost"'} if status_of(exc) == 401 else None
        return JSONResponse(body(exc, request), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body(validation_error(exc), request), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = http_error(exc.status_code, request.method, request.url.path, str(exc.detail))
        return JSONResponse(body(error, request), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


def http_error(status: int, method: str, path: str, detail: str) -> errors.RehostError:
    """A routing-level refusal (unknown path, wrong method, …) as a coded, bilingual error."""
    shown = path[:200]
    if status == 404:
        return errors.RehostError(
            "InvalidApi.NotFound",
            f"No API route {method} {shown}; check the path (see /api/v1/docs).",
            f"不存在接口 {method} {shown}；请检查路径（参见 /api/v1/docs）。")
    if status == 405:
        return errors.RehostError(
            "MethodNotAllowed",
            f"{shown} does not accept {method}; check the HTTP method (see /api/v1/docs).",
            f"{shown} 不支持 {method} 方法；请检查 HTTP 方法（参见 /api/v1/docs）。")
    return errors.RehostError(f"Http{status}", f"The request was refused: {detail}.",
                              f"请求被拒绝：{detail}。")
