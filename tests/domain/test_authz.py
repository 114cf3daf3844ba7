"""The authorization table: every (role, area, verb) pair, and the refusal's wording."""

from __future__ import annotations

import pytest

from rehost.domain.authz import (
    Action,
    Area,
    Principal,
    Role,
    Verb,
    authorize,
    is_allowed,
    parse_role,
)
from rehost.domain.errors import Forbidden, InvalidParameter
from rehost.domain.ids import AccountId, UserId

EXPECTED = {
    Role.ADMIN: {(a, v) for a in Area for v in Verb},
    Role.OPERATOR: {(Area.MIGRATION, Verb.READ), (Area.MIGRATION, Verb.WRITE),
                    (Area.ADMINISTRATION, Verb.READ), (Area.SELF, Verb.READ),
                    (Area.SELF, Verb.WRITE)},
    Role.READ_ONLY: {(Area.MIGRATION, Verb.READ), (Area.ADMINISTRATION, Verb.READ),
                     (Area.SELF, Verb.READ), (Area.SELF, Verb.WRITE)},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("area", list(Area))
@pytest.mark.parametrize("verb", list(Verb))
def test_every_pair(role: Role, area: Area, verb: Verb) -> None:
    assert is_allowed(role, Action("X", area, verb)) == ((area, verb) in EXPECTED[role])


def test_refusal_names_role_and_action_in_both_languages() -> None:
    who = Principal(AccountId("acc-1"), UserId("u-1"), "rita", Role.READ_ONLY)
    with pytest.raises(Forbidden) as info:
        authorize(who, Action("POST /api/v1/jobs", Area.MIGRATION, Verb.WRITE))
    error = info.value
    assert error.code == "Forbidden.Unauthorized"
    assert "'read-only'" in error.message and "POST /api/v1/jobs" in error.message
    assert "只读用户" in error.message_zh and "POST /api/v1/jobs" in error.message_zh


def test_parse_role() -> None:
    assert parse_role(" Operator ") is Role.OPERATOR
    with pytest.raises(InvalidParameter) as info:
        parse_role("root")
    assert info.value.code == "InvalidParameter.Role" and "read-only" in info.value.message
