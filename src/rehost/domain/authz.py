"""One authorization decision: role × action → allowed (REST, SMC, console and CLI ask it).

    admin      everything in its account
    operator   migration work (sources, jobs, images, tags, workgroups, activation codes)
               and reading; not users, keys, regions, transit hosts or host codes
    read-only  reading only
Every role may change its own password (`Area.SELF`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from rehost.domain.errors import Forbidden, invalid
from rehost.domain.ids import AccountId, UserId


class Role(StrEnum):
    """A user's role inside its account (RAM-style)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    READ_ONLY = "read-only"


class Area(StrEnum):
    """What an action touches."""

    MIGRATION = "migration"  # sources, jobs, images, tags, workgroups, activation codes
    ADMINISTRATION = "administration"  # users, keys, regions, transit hosts, host codes
    SELF = "self"  # the caller's own password


class Verb(StrEnum):
    """Whether an action changes anything."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a caller asks to do; `name` is what the refusal names (`POST /api/v1/…`)."""

    name: str
    area: Area
    verb: Verb


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: the account, the user and the user's role."""

    account_id: AccountId
    user_id: UserId
    user_name: str
    role: Role


ALLOWED: Final[dict[Role, frozenset[tuple[Area, Verb]]]] = {
    Role.ADMIN: frozenset((a, v) for a in Area for v in Verb),
    Role.OPERATOR: frozenset({
        (Area.MIGRATION, Verb.READ), (Area.MIGRATION, Verb.WRITE),
        (Area.ADMINISTRATION, Verb.READ), (Area.SELF, Verb.READ), (Area.SELF, Verb.WRITE),
    }),
    Role.READ_ONLY: frozenset({
        (Area.MIGRATION, Verb.READ), (Area.ADMINISTRATION, Verb.READ),
        (Area.SELF, Verb.READ), (Area.SELF, Verb.WRITE),
    }),
}

ROLE_ZH: Final = {Role.ADMIN: "管理员", Role.OPERATOR: "运维人员", Role.READ_ONLY: "只读用户"}


def is_allowed(role: Role, action: Action) -> bool:
    """The decision itself."""
    return (action.area, action.verb) in ALLOWED[role]


def unauthorized(role: Role, action: Action) -> Forbidden:
    """`Forbidden.Unauthorized`, naming the role and the action."""
    return Forbidden(
        "Forbidden.Unauthorized",
        f"The role {role.value!r} may not {action.name}; ask an account admin to do it or to "
        "give your user another role.",
        f"角色 {role.value!r}（{ROLE_ZH[role]}）无权执行 {action.name}；请由账号管理员执行，"
        "或请管理员为您的用户更换角色。",
    )


def authorize(principal: Principal, action: Action) -> None:
    """Raise `Forbidden.Unauthorized` unless the principal's role allows the action."""
    if not is_allowed(principal.role, action):
        raise unauthorized(principal.role, action)


def parse_role(value: str) -> Role:
    """A role from its name, or `InvalidParameter.Role` listing the three."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise invalid(
            "Role", f"Unknown role {value!r}; use admin, operator or read-only.",
            f"未知角色 {value!r}；请使用 admin、operator 或 read-only。",
        ) from None
