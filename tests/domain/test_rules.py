"""Every job parameter rule of docs/design.md, good and bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rehost.domain import jobspec, quotas, rules
from rehost.domain.errors import InvalidParameter, InvalidStatus, QuotaExceeded
from rehost.domain.ids import AccountId, SourceId
from rehost.domain.models import (
    GIB,
    DataDiskSpec,
    DiskLimits,
    ExecutionMode,
    Source,
    SourceDisk,
)
from rehost.domain.rules import JobRequest
from rehost.domain.states import SourceState

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def make_source(*disks: SourceDisk) -> Source:
    """A source with the given disks."""
    return Source(
        id=SourceId("s-1"), account_id=AccountId("acc-1"), name="web", description="",
        state=SourceState.AVAILABLE, error_code="", status_info="", hostname="web",
        os_name="", os_version="", kernel="", arch="", boot_mode="UEFI", agent_version="",
        disks=disks, inventory={}, created_at=NOW, last_heartbeat_at=NOW,
        activation_code_id=None,
    )


SYSTEM = SourceDisk(index=0, size_bytes=10 * GIB, used_bytes=3 * GIB, min_size_bytes=5 * GIB)
DATA1 = SourceDisk(index=1, size_bytes=20 * GIB, used_bytes=2 * GIB, min_size_bytes=20 * GIB,
                   shrink_note="xfs cannot shrink")
DATA2 = SourceDisk(index=2, size_bytes=GIB // 2, used_bytes=1, min_size_bytes=GIB // 2)
SOURCE = make_source(SYSTEM, DATA1, DATA2)


def build(**fields: object) -> object:
    """build_spec with defaults for this file."""
    return jobspec.build_spec(
        JobRequest(**fields), source=SOURCE, limits=DiskLimits(),  # type: ignore[arg-type]
        region_adapts=False, now=NOW, default_name="j-default",
        default_image_name="rehost-j-default",
    )


def code_of(**fields: object) -> str:
    """The error code build() raises."""
    with pytest.raises(InvalidParameter) as info:
        build(**fields)
    assert info.value.message and info.value.message_zh
    return info.value.code


def test_defaults() -> None:
    spec = build()
    assert spec.name == "j-default" and spec.image_name == "rehost-j-default"
    assert spec.system_disk_size_gib == 10
    assert spec.data_disks == (DataDiskSpec(1, 20), DataDiskSpec(2, 1))
    assert spec.mode is ExecutionMode.CREATE_ONLY and spec.scheduled_start_time is None
    assert spec.valid_time == NOW + timedelta(days=30)
    assert (spec.bandwidth_limit_kbps, spec.compress_level, spec.checksum) == (0, 0, False)


@pytest.mark.parametrize("name", ["ab", "迁移任务", "Job-1.2:x_y", "a" * 128, "任"])
def test_good_names(name: str) -> None:
    if len(name) < 2:
        assert code_of(name=name) == "InvalidParameter.Name"
    else:
        assert build(name=name).name == name


@pytest.mark.parametrize("name", [
    "a", "a" * 129, "1job", "-job", "job name", "job@x", "http://x", "jobhttps://x", "job/1",
    "_job", "jöb\u0000",
])
def test_bad_names(name: str) -> None:
    assert code_of(name=name) == "InvalidParameter.Name"


@pytest.mark.parametrize("name", ["x", "9image", "img http://a", "i" * 129])
def test_bad_image_names(name: str) -> None:
    assert code_of(image_name=name) == "InvalidParameter.ImageName"


def test_description() -> None:
    assert build(description="Web server (prod), v2: a/b").description.startswith("Web")
    assert build(description="").description == ""
    for bad in ["d" * 257, "see https://x", "a<script>", "semi;colon"]:
        assert code_of(description=bad) == "InvalidParameter.Description"
    assert build(description="d" * 256).description == "d" * 256


def test_system_disk_size() -> None:
    assert build(system_disk_size_gib=5).system_disk_size_gib == 5  # = min shrink size
    assert build(system_disk_size_gib=2048).system_disk_size_gib == 2048
    for bad in [0, -1, 4, 3, 2049]:
        assert code_of(system_disk_size_gib=bad) == "InvalidParameter.SystemDiskSize"


def test_system_disk_must_exceed_used() -> None:
    src = make_source(replace(SYSTEM, used_bytes=4 * GIB, min_size_bytes=4 * GIB))
    with pytest.raises(InvalidParameter, match="set 5 GiB"):
        rules.check_system_disk(4, src, DiskLimits())


def test_shrink_message_names_minimum_and_reason() -> None:
    with pytest.raises(InvalidParameter, match=r"set 20 GiB or more \(xfs cannot shrink\)"):
        build(data_disks=(DataDiskSpec(1, 10),))


def test_region_limits() -> None:
    limits = DiskLimits(system_min_gib=20, system_max_gib=30, data_min_gib=1, data_max_gib=25)
    with pytest.raises(InvalidParameter, match="20–30 GiB"):
        rules.check_system_disk(10, SOURCE, limits)
    with pytest.raises(InvalidParameter, match="1–25 GiB"):
        rules.check_data_disks((DataDiskSpec(1, 26),), SOURCE, limits)


@pytest.mark.parametrize("disks", [
    (DataDiskSpec(3, 10),), (DataDiskSpec(0, 10),), (DataDiskSpec(17, 10),),
    (DataDiskSpec(-1, 5),),
])
def test_bad_data_disk_index(disks: tuple[DataDiskSpec, ...]) -> None:
    assert code_of(data_disks=disks) == "InvalidParameter.DataDisk.Index"


def test_duplicate_data_disk_index_is_smc_duplicate_index() -> None:
    disks = (DataDiskSpec(1, 20), DataDiskSpec(1, 21))
    assert code_of(data_disks=disks) == "DataDisk.DuplicateIndex"


def test_data_disk_sizes() -> None:
    assert build(data_disks=()).data_disks == ()
    assert build(data_disks=(DataDiskSpec(2, 1),)).data_disks == (DataDiskSpec(2, 1),)
    for size in [0, 19, 32769]:
        assert code_of(data_disks=(DataDiskSpec(1, size),)) == "InvalidParameter.DataDisk.Size"


def test_schedule_window() -> None:
    sched = ExecutionMode.SCHEDULED
    ok = build(mode=sched, scheduled_start_time=NOW + timedelta(minutes=10))
    assert ok.scheduled_start_time == NOW + timedelta(minutes=10)
    assert build(mode=sched, scheduled_start_time=NOW + timedelta(days=30)).mode is sched
    for bad in [NOW - timedelta(hours=1), NOW + timedelta(minutes=9, seconds=59),
                NOW + timedelta(days=30, seconds=1)]:
        code = code_of(mode=sched, scheduled_start_time=bad)
        assert code == "InvalidParameter.ScheduledStartTime"
    assert code_of(mode=sched) == "InvalidParameter.ScheduledStartTime"
    naive = (NOW + timedelta(hours=1)).replace(tzinfo=None)
    assert code_of(mode=sched, scheduled_start_time=naive) == "InvalidParameter.ScheduledStartTime"
    later = NOW + timedelta(hours=1)
    assert code_of(scheduled_start_time=later) == "InvalidParameter.ScheduledStartTime"


def test_valid_time() -> None:
    assert build(valid_time=NOW + timedelta(days=7)).valid_time == NOW + timedelta(days=7)
    assert build(valid_time=NOW + timedelta(days=90)).valid_time == NOW + timedelta(days=90)
    for bad in [NOW + timedelta(days=6, hours=23), NOW + timedelta(days=91), NOW]:
        assert code_of(valid_time=bad) == "InvalidParameter.ValidTime"
    start = NOW + timedelta(days=20)
    assert code_of(mode=ExecutionMode.SCHEDULED, scheduled_start_time=start,
                   valid_time=NOW + timedelta(days=10)) == "InvalidParameter.ValidTime"


def test_advanced_options() -> None:
    assert build(bandwidth_limit_kbps=10240, compress_level=10, checksum=True).checksum
    for bad in [-1, rules.BANDWIDTH_MAX_KBPS + 1, True]:
        assert code_of(bandwidth_limit_kbps=bad) == "InvalidParameter.NetMode.BandwidthLimit"
    for bad in [-1, 11, True]:
        assert code_of(compress_level=bad) == "InvalidParameter.CompressLevel"


def test_source_without_system_disk() -> None:
    with pytest.raises(InvalidStatus):
        rules.check_system_disk(None, make_source(DATA1), DiskLimits())


def test_modify_keeps_unchanged_fields() -> None:
    spec = build(compress_level=3)
    changed = jobspec.apply_modify(spec, JobRequest(system_disk_size_gib=12), source=SOURCE,
                                   limits=DiskLimits(), region_adapts=False, now=NOW,
                                   created_at=NOW)
    assert changed.system_disk_size_gib == 12 and changed.compress_level == 3
    assert JobRequest(name="x").changes_more_than_labels() is False
    assert JobRequest(checksum=False).changes_more_than_labels() is True


def test_quotas() -> None:
    assert quotas.first_free_slot(set(), quota=3, reserved=1) == 1
    assert quotas.first_free_slot({1}, quota=3, reserved=1) == 2
    with pytest.raises(QuotaExceeded) as info:
        quotas.first_free_slot({1, 2}, quota=3, reserved=1)
    assert info.value.code == "QuotaExceeded.Vpc"
    with pytest.raises(QuotaExceeded):
        quotas.first_free_slot(set(), quota=2, reserved=2)
    quotas.check_batch(10)
    for bad in (0, 11):
        with pytest.raises(InvalidParameter):
            quotas.check_batch(bad)
    quotas.check_activation(1, 1)
    quotas.check_activation(1000, 90)
    for count, ttl in [(0, 30), (1001, 30), (10, 0), (10, 91)]:
        with pytest.raises(InvalidParameter):
            quotas.check_activation(count, ttl)
