"""A job's adaptation override: resolution against the region, and the keep_static_network rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rehost.domain import jobspec
from rehost.domain.adaptation import JOB, REGION, Adaptation, check_job_options, resolve
from rehost.domain.errors import InvalidParameter
from rehost.domain.ids import AccountId, SourceId
from rehost.domain.models import GIB, DiskLimits, JobSpec, Override, Source, SourceDisk
from rehost.domain.rules import JobRequest
from rehost.domain.states import SourceState

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SOURCE = Source(
    id=SourceId("s-1"), account_id=AccountId("acc-1"), name="web", description="",
    state=SourceState.AVAILABLE, error_code="", status_info="", hostname="web",
    os_name="", os_version="", kernel="", arch="", boot_mode="UEFI", agent_version="",
    disks=(SourceDisk(index=0, size_bytes=10 * GIB, used_bytes=GIB, min_size_bytes=2 * GIB),),
    inventory={}, created_at=NOW, last_heartbeat_at=NOW, activation_code_id=None)


def _build(region_adapts: bool, **fields: Override) -> JobSpec:
    return jobspec.build_spec(JobRequest(**fields), source=SOURCE,  # type: ignore[arg-type]
                              limits=DiskLimits(), region_adapts=region_adapts, now=NOW,
                              default_name="j-default", default_image_name="rehost-j-default")


def _modify(spec: JobSpec, region_adapts: bool, **fields: object) -> JobSpec:
    return jobspec.apply_modify(spec, JobRequest(**fields),  # type: ignore[arg-type]
                                source=SOURCE, limits=DiskLimits(), region_adapts=region_adapts,
                                now=NOW, created_at=NOW)


@pytest.mark.parametrize(("job", "region", "expected"), [
    # job silent: the region decides both
    ((None, None), (True, False), Adaptation(True, REGION, False, REGION)),
    ((None, None), (True, True), Adaptation(True, REGION, True, REGION)),
    ((None, None), (False, False), Adaptation(False, REGION, False, REGION)),
    # the job turns adaptation off in an adapting region: nothing kept, the job said so
    ((False, None), (True, True), Adaptation(False, JOB, False, JOB)),
    # the job turns adaptation on where the region does not adapt
    ((True, None), (False, False), Adaptation(True, JOB, False, REGION)),
    ((True, True), (False, False), Adaptation(True, JOB, True, JOB)),
    # only the network choice overridden
    ((None, False), (True, True), Adaptation(True, REGION, False, JOB)),
    ((None, True), (True, False), Adaptation(True, REGION, True, JOB)),
    # a region that stopped adapting after the job kept its network: adaptation off
    ((None, True), (False, False), Adaptation(False, REGION, False, REGION)),
])
def test_resolve(job: tuple[bool | None, bool | None], region: tuple[bool, bool],
                 expected: Adaptation) -> None:
    assert resolve(job[0], job[1], region_adapt=region[0], region_keep=region[1]) == expected


@pytest.mark.parametrize(("adapt", "region_adapt"), [(False, True), (False, False),
                                                      (None, False)])
def test_keep_network_without_adaptation_is_refused(adapt: bool | None,
                                                    region_adapt: bool) -> None:
    with pytest.raises(InvalidParameter) as info:
        check_job_options(adapt, True, region_adapt=region_adapt)
    assert info.value.code == "InvalidParameter.KeepStaticNetwork"
    assert "keep_static_network" in info.value.message
    assert "keep_static_network" in info.value.message_zh and "适配" in info.value.message_zh


@pytest.mark.parametrize(("adapt", "keep", "region_adapt"), [
    (None, True, True), (True, True, False), (False, False, True), (None, None, False),
    (False, None, True)])
def test_keep_network_with_adaptation_is_accepted(adapt: bool | None, keep: bool | None,
                                                  region_adapt: bool) -> None:
    check_job_options(adapt, keep, region_adapt=region_adapt)


def test_override_values() -> None:
    assert [Override(v).stored for v in ("on", "off", "region")] == [True, False, None]
    assert [Override.of(v) for v in (True, False, None)] == [Override.ON, Override.OFF,
                                                             Override.REGION]


def test_spec_carries_the_override() -> None:
    assert (_build(True).adapt_guests, _build(True).keep_static_network) == (None, None)
    spec = _build(True, adapt_guests=Override.OFF)
    assert (spec.adapt_guests, spec.keep_static_network) == (False, None)
    spec = _build(False, adapt_guests=Override.ON, keep_static_network=Override.ON)
    assert (spec.adapt_guests, spec.keep_static_network) == (True, True)
    with pytest.raises(InvalidParameter, match="keep_static_network"):
        _build(False, keep_static_network=Override.ON)
    with pytest.raises(InvalidParameter, match="keep_static_network"):
        _build(True, adapt_guests=Override.OFF, keep_static_network=Override.ON)


def test_modify_sets_keeps_and_clears_the_override() -> None:
    spec = _build(False, adapt_guests=Override.ON, keep_static_network=Override.ON)
    kept = _modify(spec, False, compress_level=5)
    assert (kept.adapt_guests, kept.keep_static_network) == (True, True)
    with pytest.raises(InvalidParameter, match="adapt_guests=false"):
        _modify(spec, False, adapt_guests=Override.OFF)  # keep stays True: refused
    off = _modify(spec, False, adapt_guests=Override.OFF, keep_static_network=Override.REGION)
    assert (off.adapt_guests, off.keep_static_network) == (False, None)
    back = _modify(off, True, adapt_guests=Override.REGION)
    assert (back.adapt_guests, back.keep_static_network) == (None, None)
    assert JobRequest(adapt_guests=Override.REGION).changes_more_than_labels() is True
