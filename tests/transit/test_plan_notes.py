"""The agent's send-plan notes reach the job log through the transit, once per session."""

from __future__ import annotations

from pathlib import Path

from diskfactory import PartSpec, make_disk
from rehost.agent.sender import send_job

from .harness import transit_rig


def test_volumes_copied_whole_are_named_in_the_job_log(tmp_path: Path) -> None:
    disk = make_disk(tmp_path, size_mib=24, table="gpt",
                     parts=(PartSpec(fs="ext4", size_mib=12), PartSpec(fs="unknown")))
    with transit_rig(tmp_path / "transit") as rig:
        rig.add_job("tok-plan", [(0, disk.path)])
        result = send_job(rig.send_spec("tok-plan", [(0, disk.path)]))
    assert result.completed
    assert rig.control.plan_notes == [
        ("j-test", "disk 0: partition 2: no filesystem recognised; copied whole")]
