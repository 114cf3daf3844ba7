"""Regions: image store, network quota, disk limits."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rehost.db import convert
from rehost.db.tables import RegionRow
from rehost.domain import errors, ids, quotas
from rehost.domain.ids import AccountId, RegionId
from rehost.domain.models import ADAPT_ENGINES, DiskLimits, Region
from rehost.services import lookup, store_paths
from rehost.services.context import ServiceContext

LOCAL = RegionId("local")
DISK_GIB_MAX = 1024 * 1024  # 1 PiB: larger limits are typos (and overflow 32-bit columns)


IMAGE_FORMATS = ("raw", "qcow2")


def _check_id(region_id: str) -> None:
    if not ids.is_region_id(region_id):
        raise errors.invalid(
            "RegionId", "Region ids are 1–64 lowercase letters, digits and hyphens (e.g. dc-2).",
            "地域 ID 须为 1–64 位小写字母、数字和连字符（如 dc-2）。",
        )


def _check_name(name: str) -> None:
    if len(name) > 128:
        raise errors.invalid("RegionName", "Region names are at most 128 characters.",
                             "地域名称最多 128 个字符。")


def _check_limits(limits: DiskLimits) -> None:
    top = DISK_GIB_MAX
    if not (1 <= limits.system_min_gib <= limits.system_max_gib <= top
            and 1 <= limits.data_min_gib <= limits.data_max_gib <= top):
        raise errors.invalid("DiskLimits", f"Disk limits need 1 ≤ min ≤ max ≤ {top} (GiB).",
                             f"磁盘大小限制须满足 1 ≤ 最小值 ≤ 最大值 ≤ {top}（GiB）。")


def region_errors(region_id: str, name: str, limits: DiskLimits, quota: int,
                  reserved: int) -> list[errors.RehostError]:
    """Every refused region field at once (a form shows them all), in field order."""
    found: list[errors.RehostError] = []
    checks: tuple[Callable[[], None], ...] = (
        lambda: _check_id(region_id), lambda: _check_name(name), lambda: _check_limits(limits),
        lambda: quotas.check_region_quota(quota=quota, reserved=reserved))
    for check in checks:
        try:
            check()
        except errors.RehostError as exc:
            found.append(exc)
    return found


def _check(region_id: str, name: str, limits: DiskLimits, quota: int, reserved: int) -> None:
    found = region_errors(region_id, name, limits, quota, reserved)
    if found:
        raise found[0]


def _bad_store(path: str, why: str) -> errors.InvalidParameter:
    return errors.invalid(
        "ImageStorePath",
        f"The image store path {path!r} is unusable ({why}); give an absolute directory path "
        "the server can create and write.",
        f"镜像存储路径 {path!r} 不可用（{why}）；请填写服务器可创建并写入的绝对目录路径。",
    )


def _prepare_store(path: str) -> None:
    """Create the image store directory (or refuse the path with InvalidParameter)."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        raise _bad_store(path, exc.__class__.__name__) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise _bad_store(path, "not writable")


def _check_adaptation(adapt_guests: bool, engine: str, keep_static_network: bool) -> None:
    """An unknown engine, or an adaptation option without adaptation, is refused by name."""
    if engine not in ADAPT_ENGINES:
        raise errors.invalid("AdaptEngine", f"adapt_engine {engine!r} is unknown: use rehost or "
                             "virt-v2v.", f"adapt_engine {engine!r} 无法识别：请使用 rehost 或 "
                             "virt-v2v。")
    if not adapt_guests and (engine != "rehost" or keep_static_network):
        raise errors.invalid("AdaptGuests", "adapt_engine and keep_static_network only apply "
                             "when adapt_guests is on: turn adapt_guests on or drop them.",
                             "adapt_engine 与 keep_static_network 仅在开启 adapt_guests 时生效："
                             "请开启 adapt_guests 或去掉这两项。")


def create_region(
    ctx: ServiceContext,
    account_id: AccountId,
    *,
    region_id: str,
    name: str = "",
    image_store_path: str = "",
    network_quota: int = quotas.NETWORK_QUOTA_DEFAULT,
    reserved_slots: int = 0,
    limits: DiskLimits = DiskLimits(),
    verify_after_migration: bool = False,
    image_format: str = "raw",
    accept_failed_checks: bool = False,
    adapt_guests: bool = False,
    adapt_engine: str = "rehost",
    keep_static_network: bool = False,
) -> Region:
    """Create a region (store default: `<first root>/regions/<account>/<id>/images`)."""
    _check(region_id, name, limits, network_quota, reserved_slots)
    if image_format not in IMAGE_FORMATS:
        raise errors.invalid("ImageFormat", "image_format must be raw or qcow2.",
                             "image_format 须为 raw 或 qcow2。")
    _check_adaptation(adapt_guests, adapt_engine, keep_static_network)
    store = image_store_path or store_paths.default_store(ctx.settings, account_id, region_id)
    row = RegionRow(
        account_id=account_id, id=region_id, name=name or region_id, image_store_path=store,
        network_quota=network_quota, reserved_slots=reserved_slots,
        system_min_gib=limits.system_min_gib, system_max_gib=limits.system_max_gib,
        data_min_gib=limits.data_min_gib, data_max_gib=limits.data_max_gib, created_at=ctx.now(),
        verify_after_migration=verify_after_migration, image_format=image_format,
        accept_failed_checks=accept_failed_checks, adapt_guests=adapt_guests,
        adapt_engine=adapt_engine, keep_static_network=keep_static_network,
    )
    try:
        with ctx.db.transaction() as session:
            session.add(row)
            session.flush()  # a duplicate id fails here, before the directory is made
            store_paths.check_store(session, ctx.settings, store,
                                    region=(account_id, region_id))
            _prepare_store(store)  # a refused path rolls the region back: nothing half-made
    except IntegrityError as exc:
        raise errors.Duplicate(
            "RegionId.Duplicate", f"Region {region_id!r} already exists; pick another id.",
            f"地域 {region_id!r} 已存在；请换一个 ID。",
        ) from exc
    return convert.region(row)


def modify_region(
    ctx: ServiceContext, account_id: AccountId, region_id: str, *, name: str,
    network_quota: int, reserved_slots: int, limits: DiskLimits,
    verify_after_migration: bool, accept_failed_checks: bool, adapt_guests: bool,
) -> Region:
    """Change a region's name, quota, reserved slots, disk limits and image options.

    The id, image store and image format stay: images and transits already point at them.
    """
    _check(region_id, name, limits, network_quota, reserved_slots)
    with ctx.db.transaction() as session:
        row = lookup.region_row(session, account_id, region_id)
        row.name, row.network_quota, row.reserved_slots = name or region_id, network_quota, \
            reserved_slots
        row.system_min_gib, row.system_max_gib = limits.system_min_gib, limits.system_max_gib
        row.data_min_gib, row.data_max_gib = limits.data_min_gib, limits.data_max_gib
        row.verify_after_migration, row.accept_failed_checks = (verify_after_migration,
                                                                accept_failed_checks)
        row.adapt_guests = adapt_guests
        used = len(lookup.slots_in_use(session, account_id, region_id))
        return convert.region(row, slots_in_use=used)


def ensure_local_region(ctx: ServiceContext, account_id: AccountId) -> Region:
    """Create the default `local` region if the account has none by that id."""
    try:
        return get_region(ctx, account_id, LOCAL)
    except errors.NotFound:
        return create_region(ctx, account_id, region_id=LOCAL, name="Local",
                             accept_failed_checks=ctx.settings.local_accept_failed_checks)


def get_region(ctx: ServiceContext, account_id: AccountId, region_id: str) -> Region:
    """One region with its slot use."""
    with ctx.db.read() as session:
        row = lookup.region_row(session, account_id, region_id)
        used = len(lookup.slots_in_use(session, account_id, region_id))
        return convert.region(row, slots_in_use=used)


def list_regions(ctx: ServiceContext, account_id: AccountId) -> list[Region]:
    """The account's regions with slot use."""
    with ctx.db.read() as session:
        rows = session.scalars(
            select(RegionRow).where(RegionRow.account_id == account_id).order_by(RegionRow.id)
        ).all()
        return [
            convert.region(r, slots_in_use=len(lookup.slots_in_use(session, account_id, r.id)))
            for r in rows
        ]
