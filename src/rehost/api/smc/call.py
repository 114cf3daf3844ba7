"""One authenticated RPC call as the action handlers see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rehost.api.smc import errors
from rehost.api.smc.params import Params
from rehost.domain.ids import AccountId
from rehost.jsonvalue import JsonObject
from rehost.services.context import ServiceContext

MAX_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Call:
    """Services context, the caller's account and the call's parameters."""

    ctx: ServiceContext
    account_id: AccountId
    params: Params

    def paging(self) -> tuple[int, int]:
        """(PageNumber ≥ 1, default 1; PageSize 1–50, default 10)."""
        number = self.params.integer("PageNumber", low=1) or 1
        size = self.params.integer("PageSize", low=1, high=MAX_PAGE_SIZE) or 10
        return number, size


Action = Callable[[Call], JsonObject]


def single(call: Call, name: str) -> str | None:
    """A list parameter (`Name.1`…) that rehost filters by one value only, or None."""
    values = call.params.repeated(name)
    if len(values) > 1:
        raise errors.invalid_parameter(name, "rehost filters by one value at a time")
    return values[0] if values else None
