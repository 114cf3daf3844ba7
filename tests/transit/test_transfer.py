"""Byte-exact transfers over real TLS on loopback into real sparse files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendProgress

from .harness import MIB, make_sparse_disk, same_bytes, transit_rig


@pytest.mark.parametrize(("compress_level", "checksum"), [(0, False), (1, True), (6, False)])
def test_sparse_disk_arrives_byte_identical(tmp_path: Path, compress_level: int,
                                            checksum: bool) -> None:
    src = make_sparse_disk(tmp_path / "src.img")
    data = make_sparse_disk(tmp_path / "data.img", size_mib=16, seed=7)
    disks = [(0, src), (1, data)]
    seen: list[SendProgress] = []
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok-1", disks, checksum=checksum)
        result = send_job(rig.send_spec("tok-1", disks, compress_level=compress_level),
                          progress=seen.append)
        assert rig.control.finished.is_set()
        assert same_bytes(src, rig.target(job, 0))
        assert same_bytes(data, rig.target(job, 1))
        stats = rig.pool.stats(job.job_id)
    assert result.completed and result.zero_chunks >= 1
    assert stats is not None and stats.duplicate_bytes == 0
    digests = rig.control.done[job.job_id]
    assert [bool(d.digest_hex) for d in digests] == [checksum, checksum]
    if checksum:
        assert digests[0].digest_hex == result.disk_digests[0]
    final = seen[-1]
    assert all(d.done_bytes == d.total_bytes > 0 for d in final.disks)
    if compress_level:
        assert result.wire_bytes_sent < result.raw_bytes_sent
    # holes stay holes on the target: far less allocated than the apparent size
    assert os.stat(rig.target(job, 0)).st_blocks * 512 < 12 * MIB


def test_unknown_token_is_refused(tmp_path: Path) -> None:
    from rehost.agent.sendspec import SendError

    src = make_sparse_disk(tmp_path / "src.img", size_mib=8)
    with transit_rig(tmp_path / "transit") as rig:
        rig.add_job("good", [(0, src)])
        with pytest.raises(SendError) as err:
            send_job(rig.send_spec("bad", [(0, src)], reconnect_timeout_s=1))
    assert err.value.code == "Transit.InvalidToken"
