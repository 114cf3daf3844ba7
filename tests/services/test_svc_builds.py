"""The image builder on real services, a real image store and real disk files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from buildkit import build_ctx, region_store, synced_job

from rehost.domain import errors
from rehost.domain.errors import InvalidStatus
from rehost.domain.models import Override
from rehost.domain.rules import JobRequest
from rehost.domain.states import BusinessStatus, JobStatus
from rehost.imaging import pipeline
from rehost.imaging.adapt import AdaptOptions, AdaptReport, Change
from rehost.imaging.pipeline import Preparation, SizedDisk, prepare_disks
from rehost.imaging.resize import ResizeResult
from rehost.imaging.verify import VerifyResult
from rehost.services import events, image_verify, images, jobs, regions
from rehost.services.builds import ImageBuilder
from rehost.services.context import ServiceContext

MIB = 1024 * 1024


_synced = partial(synced_job, source_gib=1, disk_mib=1024)


def test_builder_publishes_registers_and_finishes(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, disk = _synced(ctx, ctl_account, ctl_source, region_id="local")
    source_bytes = disk.read_bytes()
    seen: list[tuple[list[int], str]] = []

    def prepare(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool = False) -> Preparation:
        seen.append(([d.target_size_bytes for d in disks], boot_mode))
        return Preparation(resizes=(), checks=())

    ImageBuilder(ctx, store_for=region_store, prepare=prepare).build(job_id, {})
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.FINISHED and job.image_id
    assert seen == [([1024 * MIB], "UEFI")]
    image = images.get_image(ctx, ctl_account.id, job.image_id)
    region = regions.get_region(ctx, ctl_account.id, "local")
    published = region_store(region).disk_path(image.id, 0)
    assert published.read_bytes() == source_bytes
    assert published.stat().st_blocks * 512 < 16 * MIB  # holes stayed holes
    assert image.manifest["disks"][0]["format"] == "raw"


def test_region_image_format_qcow2_publishes_qcow2(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, tmp_path: Path
) -> None:
    ctx = build_ctx(ctl_ctx)
    regions.create_region(ctx, ctl_account.id, region_id="q-1", image_format="qcow2",
                          image_store_path=str(ctx.settings.data_dir / "store"))
    job_id, disk = _synced(ctx, ctl_account, ctl_source, region_id="q-1")
    source_bytes = disk.read_bytes()
    ImageBuilder(ctx, store_for=region_store).build(job_id, {})
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.FINISHED and job.image_id
    image = images.get_image(ctx, ctl_account.id, job.image_id)
    published = region_store(regions.get_region(ctx, ctl_account.id, "q-1")).disk_path(image.id, 0)
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(published)],
                                     check=True, capture_output=True, text=True).stdout)
    assert info["format"] == "qcow2" and info["virtual-size"] == 1024 * MIB
    back = tmp_path / "back.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(published), str(back)], check=True)
    assert back.read_bytes() == source_bytes


def test_failed_build_leaves_no_image_and_job_in_error(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, disk = _synced(ctx, ctl_account, ctl_source, region_id="local")
    disk.unlink()  # the transit's disk is gone: publishing must fail cleanly
    builder = ImageBuilder(ctx, store_for=region_store)
    builder.submit(job_id)
    for _ in range(200):
        job = jobs.get_job(ctx, ctl_account.id, job_id)
        if job.status is not JobStatus.RUNNING:
            break
        time.sleep(0.05)
    assert job.status is JobStatus.IN_ERROR and job.error_code == "Image.BuildFailed"
    assert job.business_status is BusinessStatus.NONE
    region = regions.get_region(ctx, ctl_account.id, "local")
    assert [p for p in Path(region.image_store_path).iterdir() if p.name.startswith("m-")] == []
    assert images.describe_images(ctx, ctl_account.id).total_count == 0


class FakeAdapter:
    """adapt_linux_guest at the OS edge: records the disks it was given, reports two lines."""

    def __init__(self) -> None:
        self.calls: list[list[Path]] = []
        self.options: list[AdaptOptions] = []

    def __call__(self, disk_paths: Sequence[Path], *, log: Any,
                 options: AdaptOptions = AdaptOptions()) -> AdaptReport:
        self.calls.append(list(disk_paths))
        self.options.append(options)
        change = Change("Adapt.Initramfs", "virtio drivers added to the initramfs",
                        "已将 virtio 驱动加入 initramfs")
        note = Change("Adapt.GuestAgent", "qemu-guest-agent not installed",
                      "未安装 qemu-guest-agent", changed=False)
        return AdaptReport((change,), 0.01, (note,))


@pytest.fixture
def adapter(monkeypatch: pytest.MonkeyPatch) -> FakeAdapter:
    """The real prepare_disks, its libguestfs, resize and check tools replaced by fakes."""
    fake = FakeAdapter()
    monkeypatch.setattr(pipeline, "adapt_linux_guest", fake)
    monkeypatch.setattr(pipeline, "resize_disk", lambda path, *, target_size_bytes: ResizeResult(
        path=path, action="none", old_size_bytes=target_size_bytes,
        new_size_bytes=target_size_bytes, partition_number=None, fs="",
        fs_old_size_bytes=0, fs_new_size_bytes=0))
    monkeypatch.setattr(pipeline, "run_checks", lambda paths, *, boot_mode: [])
    return fake


def _prepare(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool) -> Preparation:
    return prepare_disks(disks, boot_mode=boot_mode, adapt=adapt)  # what embedded.py passes


def _region(ctx: ServiceContext, account: Any, region_id: str, adapt: bool) -> None:
    regions.create_region(ctx, account.id, region_id=region_id, adapt_guests=adapt,
                          image_store_path=str(ctx.settings.data_dir / f"store-{region_id}"))
    assert regions.get_region(ctx, account.id, region_id).adapt_guests is adapt


def test_adapting_region_adapts_the_working_copy_and_logs_adapt_events(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, adapter: FakeAdapter
) -> None:
    ctx = build_ctx(ctl_ctx)
    _region(ctx, ctl_account, "adapt-1", True)
    job_id, disk = _synced(ctx, ctl_account, ctl_source, region_id="adapt-1")
    ImageBuilder(ctx, store_for=region_store, prepare=_prepare).build(job_id, {})
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.FINISHED and job.image_id
    assert len(adapter.calls) == 1
    adapted = adapter.calls[0][0]
    assert adapted != disk and adapted.parent.name == "build"  # never the received disk
    codes = [e.code for e in jobs.list_events(ctx, ctl_account.id, job_id)]
    assert "Adapt.Initramfs" in codes and "Adapt.GuestAgent" in codes


def test_default_region_does_not_adapt(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, adapter: FakeAdapter
) -> None:
    ctx = build_ctx(ctl_ctx)
    _region(ctx, ctl_account, "plain-1", False)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="plain-1")
    ImageBuilder(ctx, store_for=region_store, prepare=_prepare).build(job_id, {})
    assert jobs.get_job(ctx, ctl_account.id, job_id).image_id
    assert adapter.calls == []
    codes = [e.code for e in jobs.list_events(ctx, ctl_account.id, job_id)]
    assert not [c for c in codes if c.startswith("Adapt.")]


def test_adapting_region_without_libguestfs_fails_with_adapt_failed(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, adapter: FakeAdapter,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = build_ctx(ctl_ctx)
    _region(ctx, ctl_account, "adapt-2", True)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="adapt-2")
    monkeypatch.setattr("rehost.transit.buildstep.shutil.which", lambda name: None)
    ImageBuilder(ctx, store_for=region_store, prepare=_prepare).submit(job_id)
    for _ in range(200):
        job = jobs.get_job(ctx, ctl_account.id, job_id)
        if job.status is not JobStatus.RUNNING:
            break
        time.sleep(0.05)
    assert job.status is JobStatus.IN_ERROR and job.error_code == "Adapt.Failed"
    assert "libguestfs-tools" in job.error_hint and "libguestfs-tools" in job.error_hint_zh
    assert "--no-adapt-guests" in job.error_hint
    assert adapter.calls == []


def test_one_verification_per_image_even_across_processes(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="local")
    ImageBuilder(ctx, store_for=region_store).build(job_id, {})
    image_id = jobs.get_job(ctx, ctl_account.id, job_id).image_id
    assert image_id
    image_dir = region_store(regions.get_region(ctx, ctl_account.id, "local")).disk_path(
        image_id, 0).parent
    boots: list[str] = []

    def boot(disks: Sequence[Path], *, image_dir: Path, **_kw: Any) -> VerifyResult:
        boots.append(image_dir.name)
        with pytest.raises(InvalidStatus, match="being verified already"):  # same process
            image_verify.verify_image(ctx, ctl_account.id, image_id, boot=boot)
        return VerifyResult(True, "login prompt", 0.1, "login:", image_dir / "console.log")

    assert image_verify.verify_image(ctx, ctl_account.id, image_id, boot=boot).result.passed
    holder = subprocess.Popen(  # another process (an API replica) holds the image's claim
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(image_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(InvalidStatus) as refused:
            image_verify.verify_image(ctx, ctl_account.id, image_id, boot=boot)
        assert refused.value.code == "Image.VerifyInProgress"
    finally:
        holder.communicate("", timeout=10)
    assert image_verify.verify_image(ctx, ctl_account.id, image_id, boot=boot).result.passed
    assert boots == [image_id, image_id]


def test_region_adaptation_options_reach_the_adapter_and_bad_ones_are_refused(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, adapter: FakeAdapter
) -> None:
    ctx = build_ctx(ctl_ctx)
    store = str(ctx.settings.data_dir / "store-v2v")
    regions.create_region(ctx, ctl_account.id, region_id="v2v-1", adapt_guests=True,
                          adapt_engine="virt-v2v", keep_static_network=True,
                          image_store_path=store)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="v2v-1")
    ImageBuilder(ctx, store_for=region_store, prepare=_prepare_with_options).build(job_id, {})
    assert adapter.options == [AdaptOptions(engine="virt-v2v", keep_static_network=True)]
    with pytest.raises(errors.InvalidParameter, match="adapt_engine 'v2v' is unknown"):
        regions.create_region(ctx, ctl_account.id, region_id="v2v-2", adapt_guests=True,
                              adapt_engine="v2v", image_store_path=store + "-2")
    with pytest.raises(errors.InvalidParameter, match="only apply when adapt_guests is on"):
        regions.create_region(ctx, ctl_account.id, region_id="v2v-3",
                              keep_static_network=True, image_store_path=store + "-3")


def _prepare_with_options(disks: Sequence[SizedDisk], boot_mode: str,
                          adapt: AdaptOptions | None) -> Preparation:
    return prepare_disks(disks, boot_mode=boot_mode, adapt=adapt is not None,
                         options=adapt or AdaptOptions())  # what embedded.py passes


def test_job_override_turns_adaptation_off_in_an_adapting_region_and_on_in_a_plain_one(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any, adapter: FakeAdapter
) -> None:
    ctx = build_ctx(ctl_ctx)
    _region(ctx, ctl_account, "adapt-job-1", True)
    _region(ctx, ctl_account, "plain-job-1", False)
    plans: list[AdaptOptions | None] = []

    def prepare(disks: Sequence[SizedDisk], boot_mode: str,
                adapt: AdaptOptions | None) -> Preparation:
        plans.append(adapt)
        return _prepare_with_options(disks, boot_mode, adapt)

    exact = JobRequest(system_disk_size_gib=1, adapt_guests=Override.OFF)
    job_id, disk = _synced(ctx, ctl_account, ctl_source, region_id="adapt-job-1", request=exact)
    source_bytes = disk.read_bytes()
    ImageBuilder(ctx, store_for=region_store, prepare=prepare).build(job_id, {})
    job = jobs.get_job(ctx, ctl_account.id, job_id)
    assert job.status is JobStatus.FINISHED and job.image_id and job.spec.adapt_guests is False
    assert plans == [None] and adapter.calls == []  # the region adapts, this job does not
    published = region_store(regions.get_region(ctx, ctl_account.id, "adapt-job-1")).disk_path(
        job.image_id, 0)
    assert published.read_bytes() == source_bytes  # byte-exact copy
    assert not [e for e in jobs.list_events(ctx, ctl_account.id, job_id)
                if e.code.startswith("Adapt.")]

    adapting = JobRequest(system_disk_size_gib=1, adapt_guests=Override.ON,
                          keep_static_network=Override.ON)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="plain-job-1",
                            request=adapting)
    ImageBuilder(ctx, store_for=region_store, prepare=prepare).build(job_id, {})
    assert jobs.get_job(ctx, ctl_account.id, job_id).status is JobStatus.FINISHED
    assert plans[1:] == [AdaptOptions(engine="rehost", keep_static_network=True)]
    assert len(adapter.calls) == 1
    codes = [e.code for e in jobs.list_events(ctx, ctl_account.id, job_id)]
    assert "Adapt.Initramfs" in codes


def test_job_keeping_its_network_without_adaptation_is_refused(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    _region(ctx, ctl_account, "plain-job-2", False)
    src = ctl_source(system_gib=1, system_used_gib=0.001, min_gib=0.01)
    with pytest.raises(errors.InvalidParameter) as refused:
        jobs.create_job(ctx, ctl_account.id, source_id=src.source_id, region_id="plain-job-2",
                        request=JobRequest(keep_static_network=Override.ON))
    assert refused.value.code == "InvalidParameter.KeepStaticNetwork"


def test_the_resize_note_is_in_the_job_log_in_both_languages(
    ctl_ctx: ServiceContext, ctl_account: Any, ctl_source: Any
) -> None:
    ctx = build_ctx(ctl_ctx)
    job_id, _disk = _synced(ctx, ctl_account, ctl_source, region_id="local")

    def prepare(disks: Sequence[SizedDisk], boot_mode: str, adapt: bool = False) -> Preparation:
        grown = ResizeResult(path=disks[0].path, action="grow", old_size_bytes=MIB,
                             new_size_bytes=disks[0].target_size_bytes, partition_number=2,
                             fs="LVM2_member", fs_old_size_bytes=MIB, fs_new_size_bytes=2 * MIB,
                             note="PV grown; the new extents stay free in VG vg",
                             note_zh="物理卷已扩容；新增的区段留在卷组 vg 中未分配")
        return Preparation(resizes=(grown,), checks=())

    ImageBuilder(ctx, store_for=region_store, prepare=prepare).build(job_id, {})
    with ctx.db.read() as session:
        resized = [e for e in events.read(session, job_id, after_id=0, limit=1000)
                   if e.code == "Image.Resized"]
    assert len(resized) == 1, resized
    assert resized[0].message_en.endswith("; PV grown; the new extents stay free in VG vg.")
    assert resized[0].message_zh.endswith("；物理卷已扩容；新增的区段留在卷组 vg 中未分配。")
