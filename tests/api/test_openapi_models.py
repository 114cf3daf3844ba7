"""The OpenAPI document describes real answers: a model per success, the error statuses."""

from __future__ import annotations

from typing import Any

from rehost.api.app import API_PREFIX, create_app
from rehost.services.context import ServiceContext

BINARY = {"application/zip", "application/octet-stream", "text/plain"}
ERROR_STATUSES = {"400", "401", "403", "404", "413", "429"}


def _operations(ctx: ServiceContext) -> list[tuple[str, str, dict[str, Any]]]:
    doc = create_app(ctx.settings, context=ctx).openapi()
    return [(method.upper(), path, op) for path, item in doc["paths"].items()
            for method, op in item.items()]


def test_every_success_answer_has_a_schema_or_a_binary_type(ctl_ctx: ServiceContext) -> None:
    missing = []
    for method, path, op in _operations(ctl_ctx):
        for status, answer in op["responses"].items():
            if not status.startswith("2") or path == "/metrics":
                continue
            content = answer.get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            if not schema.get("$ref") and not BINARY & set(content):
                missing.append(f"{method} {path} {status}")
    assert not missing, missing


def test_api_routes_declare_the_error_body_and_never_422(ctl_ctx: ServiceContext) -> None:
    operations = _operations(ctl_ctx)
    assert len(operations) >= 50
    for method, path, op in operations:
        assert "422" not in op["responses"], f"{method} {path}"
        if path.startswith(API_PREFIX) and path != f"{API_PREFIX}/health":
            declared = set(op["responses"])
            assert declared >= ERROR_STATUSES, f"{method} {path}: {declared}"
            ref = op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorOut")
