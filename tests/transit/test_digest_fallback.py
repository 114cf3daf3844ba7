"""The stdlib data plane: blake2b-128 and zlib agreed in HELLO when the agent lacks xxhash and
zstandard; a resume state or incremental base made with another digest is not trusted."""

from __future__ import annotations

import os
import threading
import zlib
from pathlib import Path

import pytest

from rehost import chunkdigest, wire
from rehost.agent import channel
from rehost.agent.sender import send_job
from rehost.agent.sendspec import SendProgress
from rehost.transit.journal import ChunkRecord, ProgressJournal

from .harness import MIB, make_sparse_disk, same_bytes, transit_rig, whole_file_planner

CHUNK = 1 * MIB


@pytest.fixture
def stdlib_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process offers and accepts blake2b-128 only, and the agent sends zlib, not zstd."""
    monkeypatch.setattr(chunkdigest, "PREFERENCE", (chunkdigest.BLAKE2B_128,))
    monkeypatch.setattr(channel, "CODECS", ("zlib",))


def _session_digest(rig: object, job_id: str) -> str:
    sessions = rig.pool._sessions  # type: ignore[attr-defined]
    return str(sessions[job_id].digest.name)


@pytest.mark.usefixtures("stdlib_only")
def test_stdlib_path_migrates_byte_identically_with_checksums(tmp_path: Path) -> None:
    src = make_sparse_disk(tmp_path / "src.img", size_mib=48)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=True)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, compress_level=3)
        result = send_job(spec)
        assert result.completed and rig.control.finished.is_set()
        assert same_bytes(src, rig.target(job, 0))
        assert _session_digest(rig, job.job_id) == chunkdigest.BLAKE2B_128
        # the text region compressed with zlib: fewer bytes on the wire than read
        assert result.wire_bytes_sent < result.raw_bytes_sent - 4 * MIB
        # both ends computed the whole-disk digest in blake2b and agreed (DISK_DONE verified)
        assert result.disk_digests[0] != ""
        assert rig.control.done[job.job_id][0].digest_hex == result.disk_digests[0]


def test_no_common_digest_is_refused_in_both_languages() -> None:
    with pytest.raises(chunkdigest.DigestError) as err:
        chunkdigest.negotiate(["md5-128"])
    assert err.value.code == "Wire.NoCommonDigest"
    assert "no common chunk digest" in err.value.message and "没有共同" in err.value.message
    assert chunkdigest.negotiate([chunkdigest.BLAKE2B_128]).name == chunkdigest.BLAKE2B_128


def test_blake2b_zero_check_and_legacy_default() -> None:
    blake = chunkdigest.by_name(chunkdigest.BLAKE2B_128)
    zeros, data = bytes(CHUNK), b"\0" * (CHUNK - 1) + b"\1"
    assert blake.digest_and_zero(memoryview(zeros)) == (blake.zero(CHUNK), True)
    assert blake.digest_and_zero(memoryview(data))[1] is False
    assert wire.zero_digest(CHUNK) == chunkdigest.by_name(chunkdigest.XXH3_128).zero(CHUNK)
    assert wire.zero_digest(CHUNK, chunkdigest.BLAKE2B_128) == blake.zero(CHUNK)


def test_journal_of_another_digest_drops_unfinished_disks(tmp_path: Path) -> None:
    path = tmp_path / "journal.bin"
    journal = ProgressJournal(path)
    journal.append_chunks([ChunkRecord(0, 0, CHUNK, CHUNK, b"a" * 16),
                           ChunkRecord(1, 0, CHUNK, CHUNK, b"b" * 16)])
    journal.mark_disk_done(1, b"c" * 16)
    journal.switch_digest(chunkdigest.BLAKE2B_128)
    journal.close()
    again = ProgressJournal(path)
    assert again.digest_name == chunkdigest.BLAKE2B_128
    assert again.disk(0).chunks == {} and again.disk(0).done_bytes == 0  # re-sent
    assert again.disk(1).done_digest == b"c" * 16  # verified whole: stays done
    again.close()


def _stop_halfway(spec: object, rig: object, job_id: str) -> None:
    stop = threading.Event()

    def progress(p: SendProgress) -> None:
        if all(d.done_bytes >= d.total_bytes // 3 for d in p.disks):
            stop.set()

    result = send_job(spec, progress=progress, stop=stop)  # type: ignore[arg-type]
    assert not result.completed


def test_resume_state_made_with_xxh3_is_resent_under_blake2b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = tmp_path / "src.img"
    src.write_bytes(os.urandom(32 * MIB))
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=True)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, bandwidth_limit_kbps=32 * 1024)
        _stop_halfway(spec, rig, job.job_id)
        assert _session_digest(rig, job.job_id) == chunkdigest.XXH3_128
        monkeypatch.setattr(chunkdigest, "PREFERENCE", (chunkdigest.BLAKE2B_128,))
        result = send_job(spec._replace(bandwidth_limit_kbps=0))
        assert result.completed and result.resumed_bytes == 0  # the xxh3 acks are not trusted
        assert result.raw_bytes_sent == 32 * MIB
        assert same_bytes(src, rig.target(job, 0))
        assert _session_digest(rig, job.job_id) == chunkdigest.BLAKE2B_128


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def test_incremental_base_made_with_xxh3_is_rehashed_for_blake2b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = make_sparse_disk(tmp_path / "src.img", size_mib=48)
    with transit_rig(tmp_path / "transit") as rig:
        job = rig.add_job("tok", [(0, src)], checksum=True)
        spec = rig.send_spec("tok", [(0, src)], chunk_bytes=CHUNK, cycle=1)
        assert send_job(spec, planner=whole_file_planner).completed
        rig.control.finished.clear()
        _overwrite(src, 5 * MIB + 100, os.urandom(3000))
        monkeypatch.setattr(chunkdigest, "PREFERENCE", (chunkdigest.BLAKE2B_128,))
        second = send_job(spec._replace(cycle=2), planner=whole_file_planner)
        assert second.completed and rig.control.finished.is_set()
        assert second.chunks_sent == 1  # the base was re-read in blake2b: only cell 5 differs
        assert same_bytes(src, rig.target(job, 0))


def test_zlib_payload_must_decode_to_exactly_the_chunk() -> None:
    from rehost.transit.connection import _inflate

    raw = b"text " * 4096
    packed = zlib.compress(raw, 1)
    assert _inflate(memoryview(packed), len(raw)) == raw
    assert _inflate(memoryview(packed), len(raw) - 1) is None  # more than announced: refused
    assert _inflate(memoryview(packed + b"x"), len(raw)) is None  # trailing bytes
    assert _inflate(memoryview(packed[:-4]), len(raw)) is None  # truncated stream
    assert _inflate(memoryview(b"not zlib"), len(raw)) is None


@pytest.mark.parametrize("field, value", [("digests", "xxh3-128"), ("digests", [1]),
                                          ("codecs", ["z" * 33]), ("codecs", ["zstd"] * 17)])
def test_malformed_digest_or_codec_offer_is_a_bad_frame(field: str, value: object) -> None:
    from rehost.protocol.hello import Hello
    from rehost.transit.frames import check_hello

    hello = {"token": "t", "chunk_bytes": CHUNK, "disks": [], field: value}
    with pytest.raises(wire.WireError) as err:
        Hello.from_json(hello)
    assert err.value.code == "Wire.BadFrame" and field in err.value.message
    parsed = Hello.from_json({**hello, field: ["blake2b-128"]})  # a well-formed offer passes
    check_hello(parsed)
    assert getattr(parsed, field) == ("blake2b-128",)
