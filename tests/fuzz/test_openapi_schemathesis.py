"""schemathesis against the REST OpenAPI document: fixed seed, small budget, no 5xx anywhere,
and every answer conforms: its status code is declared and its body matches the response model.

The SMC RPC endpoint (`POST /`) is not in this document (`include_in_schema=False`): it takes
`Action=` with per-action parameters and answers in the SMC envelope, checked by tests/smc
against Alibaba Cloud's own SDK instead.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from rehost.api.app import API_PREFIX, create_app
from rehost.services import accounts
from rehost.services.context import ServiceContext

EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _auth(ctx: ServiceContext, account: Any) -> dict[str, str]:
    key = accounts.create_access_key(ctx, account.id)
    token = base64.b64encode(f"{key.key.id}:{key.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_no_server_errors_and_every_answer_conforms(ctl_ctx: ServiceContext,
                                                   ctl_account: Any) -> None:
    app = create_app(ctl_ctx.settings, context=ctl_ctx)
    schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", app)
    headers = _auth(ctl_ctx, ctl_account)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        operations += 1

        @seed(20261201)
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(headers={**headers, **(case.headers or {})})
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as exc:
                failures.append(f"{case.method} {case.path} -> {response.status_code}: "
                                f"{str(exc)[:400]} | body {response.content[:200]!r}")

        run()
    print(f"{operations} operations, {sum(statuses.values())} calls, statuses {dict(statuses)}")
    assert operations >= 20 and sum(statuses.values()) >= 5 * operations
    assert statuses[200] + statuses[201] > 0  # the credentials work: not everything is refused
    assert not failures, "\n".join(sorted(set(failures)))
