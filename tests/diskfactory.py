"""Build real disk images for tests (sfdisk + mke2fs -d, never mounting) and compare them."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rehost.diskfmt.extent import Extent
from rehost.diskfmt.fat import fat_free_spans
from rehost.diskfmt.reader import FileDisk

MIB = 1 << 20
TableKind = Literal["mbr", "gpt", "none"]
FsKind = Literal["ext2", "ext3", "ext4", "vfat", "swap", "unknown", "empty"]
GPT_TYPES = {"esp": "uefi", "linux": "linux", "swap": "swap", "data": "linux"}
MBR_TYPES = {"ext2": "83", "ext3": "83", "ext4": "83", "vfat": "ef", "swap": "82",
             "unknown": "da", "empty": "83"}
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n' \
             'VERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n'


@dataclass(frozen=True)
class PartSpec:
    """One partition to build; size None takes the rest; `logical` puts it in an extended one."""

    fs: FsKind = "ext4"
    size_mib: int | None = None
    files_bytes: int = 0
    label: str = ""
    mkfs_args: tuple[str, ...] = ()
    os_release: bool = False
    logical: bool = False


@dataclass(frozen=True)
class BuiltPartition:
    """A partition as built: offsets from `sfdisk -J`, used bytes from `dumpe2fs -h`."""

    number: int
    start_bytes: int
    size_bytes: int
    fs: FsKind
    used_bytes: int
    type_code: str
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltDisk:
    """A disk image on disk and what it holds."""

    path: Path
    size_bytes: int
    table: TableKind
    partitions: tuple[BuiltPartition, ...]

    @property
    def ext_partitions(self) -> tuple[BuiltPartition, ...]:
        """Partitions holding ext2/3/4."""
        return tuple(p for p in self.partitions if p.fs.startswith("ext"))

    @property
    def used_bytes(self) -> int:
        """Sum of the ext filesystems' used bytes."""
        return sum(p.used_bytes for p in self.ext_partitions)


def blank_file(path: Path, size_bytes: int) -> Path:
    """A sparse file of size_bytes (zeros)."""
    with path.open("wb") as f:
        f.truncate(size_bytes)
    return path


def run(*args: str | os.PathLike[str], stdin: str | None = None) -> str:
    """Run a tool, failing loudly with its stderr."""
    proc = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _text_corpus(rng: random.Random) -> bytes:
    """256 KiB of word soup (compresses well, but is not all one repeated block)."""
    words = [b"alpha", b"rehost", b"migration", b"disk", b"block", b"\n", b"server", b"42"]
    return b" ".join(rng.choices(words, k=40_000))[: 256 << 10]


def _text(rng: random.Random, corpus: bytes, size: int) -> bytes:
    """`size` bytes of text stitched from random slices of the corpus."""
    parts, left = [], size
    while left > 0:
        n = min(left, rng.randrange(4096, 64 << 10))
        at = rng.randrange(0, len(corpus) - n) if n < len(corpus) else 0
        parts.append(corpus[at : at + n])
        left -= len(parts[-1])
    return b"".join(parts)[:size]


def populate_tree(root: Path, total_bytes: int, *, seed: int = 0) -> dict[str, bytes]:
    """Write files of mixed compressible text and random bytes; returns {relpath: content}."""
    rng = random.Random(seed)
    corpus = _text_corpus(rng)
    files: dict[str, bytes] = {}
    written = 0
    while written < total_bytes:
        size = min(total_bytes - written, rng.choice((1024, 7000, 65536, 300_000, 1 << 20)))
        binary = len(files) % 2 == 1
        data = rng.randbytes(size) if binary else _text(rng, corpus, size)
        rel = f"d{len(files) % 5}/f{len(files)}.{'bin' if binary else 'txt'}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files[rel] = data
        written += size
    return files


def fill_random(path: Path, start: int, length: int, *, seed: int) -> None:
    """Overwrite a byte range with random data (stale data that must never be sent)."""
    rng = random.Random(seed)
    with path.open("r+b") as f:
        f.seek(start)
        while length > 0:
            n = min(length, 8 * MIB)
            f.write(rng.randbytes(n))
            length -= n


def _sfdisk_script(table: TableKind, parts: Sequence[PartSpec]) -> str:
    """An sfdisk script; logical partitions get an extended container first."""
    lines = [f"label: {'dos' if table == 'mbr' else 'gpt'}"]
    in_ext = False
    for spec in parts:
        if spec.logical and not in_ext:
            lines.append("type=5")
            in_ext = True
        size = f"size={spec.size_mib}MiB, " if spec.size_mib else ""
        ptype = MBR_TYPES[spec.fs] if table == "mbr" else _gpt_type(spec.fs)
        lines.append(f"{size}type={ptype}")
    return "\n".join(lines) + "\n"


def _gpt_type(fs: FsKind) -> str:
    return {"vfat": "uefi", "swap": "swap"}.get(fs, "linux")


def _table_partitions(path: Path) -> list[dict[str, object]]:
    """Partitions as sfdisk reports them (JSON)."""
    parts: list[dict[str, object]] = json.loads(run("sfdisk", "-J", path))["partitiontable"][
        "partitions"
    ]
    return parts


def _mkfs(path: Path, spec: PartSpec, start: int, size: int, tmp: Path, n: int) -> dict[str, bytes]:
    """Create the filesystem of one partition in place; returns the files written."""
    if spec.fs in ("unknown", "empty"):
        return {}
    if spec.fs in ("swap", "vfat"):
        _build_apart(path, spec, start, size, tmp / f"part{n}.img")
        return {}
    root = tmp / f"root{n}"
    root.mkdir(parents=True, exist_ok=True)
    files = populate_tree(root, spec.files_bytes, seed=n) if spec.files_bytes else {}
    if spec.os_release:
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc/os-release").write_text(OS_RELEASE)
        (root / "etc/hostname").write_text("source-host\n")
        files["etc/os-release"] = OS_RELEASE.encode()
        files["etc/hostname"] = b"source-host\n"
    label = ("-L", spec.label) if spec.label else ()
    run("mke2fs", "-q", "-F", "-t", spec.fs, "-E", f"nodiscard,offset={start}", *label,
        *spec.mkfs_args, "-d", root, path, f"{size // 1024}k")
    return files


def _build_apart(path: Path, spec: PartSpec, start: int, size: int, scratch: Path) -> None:
    """mkswap / mkfs.vfat in a file of its own, then copied into place."""
    scratch.parent.mkdir(parents=True, exist_ok=True)
    scratch.unlink(missing_ok=True)
    run("truncate", "-s", str(size), scratch)
    if spec.fs == "swap":
        run("mkswap", "-q", scratch)
    else:
        run("mkfs.vfat", "-n", spec.label or "EFI", scratch)
    run("dd", f"if={scratch}", f"of={path}", "bs=1M", f"seek={start}", "oflag=seek_bytes",
        "conv=notrunc", "status=none")  # not sparse: stale data below
    scratch.unlink()


def ext_used_bytes(path: Path, start: int) -> int:
    """Used bytes of an ext filesystem by dumpe2fs -h: (blocks - free) x block size."""
    out = run("dumpe2fs", "-h", f"{path}?offset={start}")
    fields = dict(re.findall(r"^([^:\n]+):\s+(\S+)", out, re.M))
    return (int(fields["Block count"]) - int(fields["Free blocks"])) * int(fields["Block size"])


def make_disk(
    directory: Path, *, name: str = "disk.img", size_mib: int = 64, table: TableKind = "gpt",
    parts: Sequence[PartSpec] = (PartSpec(files_bytes=4 * MIB),), stale: bool = True,
    seed: int = 0,
) -> BuiltDisk:
    """Build a partitioned disk; stale random data goes into every partition before mkfs."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.unlink(missing_ok=True)
    run("truncate", "-s", f"{size_mib}M", path)
    if table == "none":
        return _whole_disk(path, parts[0], size_mib * MIB, stale=stale, seed=seed)
    run("sfdisk", "-q", path, stdin=_sfdisk_script(table, parts))
    rows = [r for r in _table_partitions(path) if str(r["type"]).lower() not in ("5", "f", "85")]
    built = []
    for n, (spec, row) in enumerate(zip(parts, rows, strict=True)):
        start, size = int(str(row["start"])) * 512, int(str(row["size"])) * 512
        if stale or spec.fs == "unknown":
            fill_random(path, start, size, seed=seed * 1000 + n)
        files = _mkfs(path, spec, start, size, directory / f".{name}.tmp", n)
        used = ext_used_bytes(path, start) if spec.fs.startswith("ext") else 0
        number = int(re.sub(r".*\D", "", str(row["node"])))
        built.append(BuiltPartition(number, start, size, spec.fs, used, str(row["type"]), files))
    return BuiltDisk(path=path, size_bytes=size_mib * MIB, table=table, partitions=tuple(built))


def _whole_disk(path: Path, spec: PartSpec, size: int, *, stale: bool, seed: int) -> BuiltDisk:
    """A disk that is one filesystem with no partition table."""
    if stale:
        fill_random(path, 0, size, seed=seed)
    files = _mkfs(path, spec, 0, size, path.parent / f".{path.name}.tmp", 0)
    used = ext_used_bytes(path, 0) if spec.fs.startswith("ext") else 0
    part = BuiltPartition(0, 0, size, spec.fs, used, "", files)
    return BuiltDisk(path=path, size_bytes=size, table="none", partitions=(part,))


def make_system_disk(directory: Path, *, table: TableKind = "gpt", size_mib: int = 96,
                     files_bytes: int = 8 * MIB, name: str = "system.img") -> BuiltDisk:
    """ESP (GPT) or boot (MBR) partition, an unknown random partition, an ext4 root last."""
    first = PartSpec(fs="vfat", size_mib=16) if table == "gpt" else PartSpec(
        fs="ext2", size_mib=16, files_bytes=MIB, label="boot")
    parts = (first, PartSpec(fs="unknown", size_mib=8),
             PartSpec(fs="ext4", files_bytes=files_bytes, os_release=True, label="root"))
    return make_disk(directory, name=name, size_mib=size_mib, table=table, parts=parts)


def make_data_disk(directory: Path, *, whole_disk: bool = False, size_mib: int = 32,
                   files_bytes: int = 4 * MIB, name: str = "data.img") -> BuiltDisk:
    """A data disk: one ext4 partition (GPT) or a whole-disk ext4."""
    spec = PartSpec(fs="ext4", files_bytes=files_bytes, label="data")
    return make_disk(directory, name=name, size_mib=size_mib,
                     table="none" if whole_disk else "gpt", parts=(spec,), seed=7)


def _dumpe2fs_int(out: str, field: str) -> int:
    """A numeric field of dumpe2fs's header ("Block size:", "Inodes per group:", ...)."""
    return int(re.search(rf"^{field}:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def _free_ranges(out: str, start: int) -> list[tuple[int, int]]:
    """Free byte ranges listed in one dumpe2fs output."""
    bs = _dumpe2fs_int(out, "Block size")
    cluster = re.search(r"^Cluster size:\s+(\d+)", out, re.M)
    ratio = int(cluster.group(1)) // bs if cluster else 1  # bigalloc lists cluster starts
    ranges = []
    for line in re.findall(r"^\s+Free blocks: (.*)$", out, re.M):
        for item in filter(None, (x.strip() for x in line.split(","))):
            lo, _, hi = item.partition("-")
            last = int(hi or lo) // ratio * ratio + ratio
            ranges.append((start + int(lo) * bs, start + last * bs))
    return ranges


def _unused_itable_ranges(out: str, start: int) -> list[tuple[int, int]]:
    """Inode-table blocks past each group's unused-inode mark, in one dumpe2fs output."""
    bs = _dumpe2fs_int(out, "Block size")
    ipg = _dumpe2fs_int(out, "Inodes per group")
    isize = _dumpe2fs_int(out, "Inode size")
    ranges = []
    for group in re.split(r"^Group \d+:", out, flags=re.M)[1:]:
        table = re.search(r"Inode table at (\d+)-(\d+)", group)
        unused = re.search(r"(\d+) unused inodes", group)
        if table is None or unused is None:
            continue
        used_blocks = -(-(ipg - int(unused.group(1))) * isize // bs)
        lo, hi = int(table.group(1)) + used_blocks, int(table.group(2)) + 1
        if lo < hi:
            ranges.append((start + lo * bs, start + hi * bs))
    return ranges


def dumpe2fs_free_ranges(path: Path, start: int) -> list[tuple[int, int]]:
    """Free byte ranges (absolute, half-open) of an ext fs, as dumpe2fs reports them."""
    return _free_ranges(run("dumpe2fs", f"{path}?offset={start}"), start)


def dumpe2fs_unused_itable_ranges(path: Path, start: int) -> list[tuple[int, int]]:
    """Inode-table blocks past each group's unused-inode mark (absolute byte ranges), as
    dumpe2fs reports them; none without group checksums (no "unused inodes" printed)."""
    return _unused_itable_ranges(run("dumpe2fs", f"{path}?offset={start}"), start)


def dumpe2fs_unsent_ranges(path: Path, start: int) -> list[tuple[int, int]]:
    """What the plan need not send, by one dumpe2fs run: free blocks and never-used
    inode-table blocks."""
    out = run("dumpe2fs", f"{path}?offset={start}")
    return _free_ranges(out, start) + _unused_itable_ranges(out, start)


def _must_match_ranges(disk: BuiltDisk) -> list[tuple[int, int]]:
    """Everything except free ext blocks (dumpe2fs), never-used inode-table blocks, swap
    pages and free FAT clusters."""
    free: list[tuple[int, int]] = []
    for p in disk.ext_partitions:
        free.extend(dumpe2fs_unsent_ranges(disk.path, p.start_bytes))
    for p in disk.partitions:
        if p.fs == "swap":  # only the header page means anything
            free.append((p.start_bytes + 4096, p.start_bytes + p.size_bytes))
        elif p.fs == "vfat":  # the FATs themselves are compared byte for byte
            with FileDisk(disk.path) as reader:
                spans = fat_free_spans(reader, p.start_bytes, p.size_bytes)
            free.extend((p.start_bytes + s, p.start_bytes + e) for s, e in spans)
    keep, pos = [], 0
    for lo, hi in sorted(free):
        if lo > pos:
            keep.append((pos, lo))
        pos = max(pos, hi)
    keep.append((pos, disk.size_bytes))
    return keep


def compare_disks(source: BuiltDisk, target: Path) -> list[str]:
    """Byte differences outside free ext blocks: table, boot area, gaps, allocated blocks."""
    problems = []
    if target.stat().st_size < source.size_bytes:
        problems.append(f"target is {target.stat().st_size} bytes, source {source.size_bytes}")
    with source.path.open("rb") as a, target.open("rb") as b:
        for lo, hi in _must_match_ranges(source):
            pos = lo
            while pos < hi:
                n = min(hi - pos, 4 * MIB)
                a.seek(pos)
                b.seek(pos)
                if a.read(n) != b.read(n):
                    problems.append(f"differs in [{pos}, {pos + n})")
                    break
                pos += n
    return problems


def e2fsck_all(disk: BuiltDisk, path: Path | None = None) -> dict[int, tuple[int, str]]:
    """Run `e2fsck -fn` on every ext partition of `path` (default: the source image)."""
    image = path or disk.path
    results = {}
    for p in disk.ext_partitions:
        proc = subprocess.run(["e2fsck", "-fn", f"{image}?offset={p.start_bytes}"],
                              capture_output=True, text=True)
        results[p.number] = (proc.returncode, proc.stdout + proc.stderr)
    return results


def copy_planned(src: Path, dst: Path, extents: Iterable[Extent]) -> None:
    """What the sender + transit do: only planned extents land on a zeroed (sparse) target."""
    with src.open("rb") as a, dst.open("wb") as b:
        b.truncate(src.stat().st_size)
        for ext in extents:
            a.seek(ext.offset_bytes)
            b.seek(ext.offset_bytes)
            b.write(a.read(ext.length_bytes))
