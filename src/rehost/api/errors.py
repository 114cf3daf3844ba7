"""Error tree → HTTP, in ONE table; JSON body `{"code","message","request_id"}` (+ `hint`)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rehost.domain import errors

STATUS: dict[type[errors.RehostError], int] = {
    errors.InvalidParameter: 400,
    errors.Duplicate: 400,
    errors.InvalidStatus: 400,
    errors.QuotaExceeded: 400,
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
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
    name = names[-1] if names else "Body"
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def validation_error(exc: RequestValidationError) -> errors.InvalidParameter:
    """Translate a pydantic request error into `InvalidParameter.<Field>`."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = _field_code(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid value"))
    return errors.invalid(field, f"{field}: {msg}. Fix this field and retry.",
                          f"{field}：取值无效（{msg}）。请修改该字段后重试。")


def install(app: FastAPI) -> None:
    """Register the handlers and the request-id middleware on `app`."""

    @app.middleware("http")
    async def _request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    @app.exception_handler(errors.RehostError)
    async def _rehost(request: Request, exc: errors.RehostError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="rehost"'} if status_of(exc) == 401 else None
        return JSONResponse(body(exc, request), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body(validation_error(exc), request), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HttpError")
        return JSONResponse(
            {"code": code, "message": str(exc.detail), "request_id": request_id(request)},
            status_code=exc.status_code,
        )
