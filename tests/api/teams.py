"""Helpers of the teams tests: a user with a role and a key, the app's write routes."""

from __future__ import annotations

import base64
import re

from fastapi import FastAPI

from rehost.domain.authz import Role
from rehost.domain.ids import AccountId
from rehost.services import access_keys, users
from rehost.services.context import ServiceContext

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def basic(key_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic header for an AccessKey."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def member(ctx: ServiceContext, account_id: AccountId, role: Role,
           name: str = "") -> tuple[str, dict[str, str]]:
    """A new user of the account with `role`, and Basic auth for a fresh key of it."""
    user = users.create_user(ctx, account_id, name=name or f"u-{role.value}",
                             role=role, password="pw-" + role.value + "-123")
    key = access_keys.create_key(ctx, account_id, user.id)
    return user.id, basic(key.key.id, key.secret)


def write_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) of the REST API that writes (its route table, as the
    OpenAPI document lists it with the full paths)."""
    paths: dict[str, dict[str, object]] = app.openapi()["paths"]
    return sorted((m.upper(), p) for p, ops in paths.items() for m in ops
                  if m.upper() in WRITE_METHODS)


def concrete(path: str) -> str:
    """A route template with every `{param}` filled (`{index}` needs an integer)."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) == "index" else "x-1", path)
