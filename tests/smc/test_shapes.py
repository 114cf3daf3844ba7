"""Response documents parse into the official SDK's models with every value kept."""

from __future__ import annotations

from datetime import UTC, datetime

from alibabacloud_smc20190601 import models as m

from rehost.api.smc.shapes import job_document, smc_time, source_document
from rehost.domain.ids import AccountId, JobId, RegionId, SourceId
from rehost.domain.models import (
    DataDiskSpec,
    ExecutionMode,
    Job,
    JobProgress,
    JobSpec,
    Source,
    SourceDisk,
)
from rehost.domain.states import BusinessStatus, JobStatus, SourceState
from smc.inventory import GIB, inventory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_job() -> Job:
    spec = JobSpec(name="j", description="", system_disk_size_gib=20,
                   data_disks=(DataDiskSpec(1, 50),), image_name="img",
                   mode=ExecutionMode.CREATE_ONLY, scheduled_start_time=None, valid_time=T0,
                   bandwidth_limit_kbps=0, compress_level=1, checksum=False)
    return Job(id=JobId("j-1"), account_id=AccountId("acc-1"), source_id=SourceId("s-1"),
               region_id=RegionId("local"), spec=spec, status=JobStatus.RUNNING,
               business_status=BusinessStatus.SYNCING, progress=JobProgress(), error_code="",
               error_message="", error_hint="", transit_id=None, image_id=None, created_at=T0,
               updated_at=T0, started_at=T0, finished_at=None, run_count=1)


def test_job_document_fits_the_sdk_model() -> None:
    parsed = m.DescribeReplicationJobsResponseBodyReplicationJobsReplicationJob().from_map(
        job_document(make_job()))
    assert (parsed.job_id, parsed.status, parsed.business_status) == ("j-1", "Running",
                                                                      "Syncing")
    assert parsed.data_disks.data_disk[0].size == 50
    assert parsed.creation_time == "2026-03-01T12:00:00Z" == smc_time(T0)


def test_source_document_fits_the_sdk_model() -> None:
    inv = inventory()
    disks = tuple(SourceDisk(d["index"], d["size_bytes"], d["used_bytes"], d["size_bytes"])
                  for d in inv["disks"])
    source = Source(id=SourceId("s-1"), account_id=AccountId("acc-1"), name="web",
                    description="", state=SourceState.AVAILABLE, error_code="", status_info="",
                    hostname="web-01", os_name="Debian", os_version="12", kernel="6.1",
                    arch="x86_64", boot_mode="BIOS", agent_version="0.1.0", disks=disks,
                    inventory=inv, created_at=T0, last_heartbeat_at=T0,
                    activation_code_id=None)
    parsed = m.DescribeSourceServersResponseBodySourceServersSourceServer().from_map(
        source_document(source, last_job_id="j-1"))
    assert (parsed.system_disk_size, parsed.kernel_level, parsed.job_id) == (10, 64, "j-1")
    assert parsed.data_disks.data_disk[0].size == 20 * GIB // GIB
    assert parsed.system_disk_parts.system_disk_part[0].path == "/"
