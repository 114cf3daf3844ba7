"""Users and AccessKeys services: last use to the minute, role changes at once, scoping."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import FakeClock
from rehost.domain import errors
from rehost.domain.authz import Role
from rehost.services import access_keys, accounts, auth, users
from rehost.services.context import ServiceContext


def test_last_use_recorded_to_the_minute(ctl_ctx: ServiceContext, ctl_clock: FakeClock,
                                         ctl_account: Any) -> None:
    user = users.create_user(ctl_ctx, ctl_account.id, name="kim", role=Role.OPERATOR,
                             password="kim-pass-1")
    key = access_keys.create_key(ctl_ctx, ctl_account.id, user.id)
    assert key.key.last_used_at is None
    first = ctl_clock.now
    auth.verify_basic(ctl_ctx, key.key.id, key.secret)
    ctl_clock.advance(seconds=30)
    auth.verify_basic(ctl_ctx, key.key.id, key.secret)
    assert access_keys.get_key(ctl_ctx, ctl_account.id, key.key.id).last_used_at == first
    later = ctl_clock.advance(seconds=31)
    auth.principal_of_key(ctl_ctx, key.key.id)
    assert access_keys.get_key(ctl_ctx, ctl_account.id, key.key.id).last_used_at == later


def test_role_change_applies_to_the_next_request(ctl_ctx: ServiceContext,
                                                 ctl_account: Any) -> None:
    user = users.create_user(ctl_ctx, ctl_account.id, name="lee", role=Role.ADMIN,
                             password="lee-pass-1")
    key = access_keys.create_key(ctl_ctx, ctl_account.id, user.id)
    assert auth.verify_basic(ctl_ctx, key.key.id, key.secret).role is Role.ADMIN
    users.set_role(ctl_ctx, ctl_account.id, user.id, Role.READ_ONLY)
    assert auth.verify_basic(ctl_ctx, key.key.id, key.secret).role is Role.READ_ONLY


def test_other_accounts_users_and_keys_are_not_found(ctl_ctx: ServiceContext,
                                                     ctl_account: Any) -> None:
    other = accounts.create_account(ctl_ctx, name="o-" + ctl_account.name, password="o-pass-12")
    theirs = users.list_users(ctl_ctx, other.id)[0]
    key = accounts.create_access_key(ctl_ctx, other.id)
    for call in (lambda: users.get_user(ctl_ctx, ctl_account.id, theirs.id),
                 lambda: users.reset_password(ctl_ctx, ctl_account.id, theirs.id,
                                              new_password="stolen-pass"),
                 lambda: access_keys.create_key(ctl_ctx, ctl_account.id, theirs.id),
                 lambda: access_keys.delete_key(ctl_ctx, ctl_account.id, key.key.id)):
        with pytest.raises(errors.NotFound):
            call()
    assert auth.verify_basic(ctl_ctx, key.key.id, key.secret).account_id == other.id
