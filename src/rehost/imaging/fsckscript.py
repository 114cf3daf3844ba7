"""Filesystem checks run inside the libguestfs appliance, after replaying the journal.

The appliance's disks are copy-on-write overlays, so replaying is safe: ext gets
`e2fsck -E journal_only` when `needs_recovery` is set, XFS a mount and unmount when
`xfs_repair -n` reports a dirty log; then the read-only checker judges (`e2fsck -fn`,
`xfs_repair -n`, `btrfs check --readonly`). `e2fsck -fn` alone skips the journal and calls a
crashed filesystem clean; that is what this module exists to avoid.
"""

from __future__ import annotations

import re
import shlex

from rehost.imaging.volumes import FsckVerdict, FsVolume

EXT = ("if dumpe2fs -h {dev} 2>/dev/null | grep Filesystem.features | grep -q needs_recovery; "
       "then e2fsck -E journal_only -y {dev} 2>&1; echo \"REPLAY $?\"; fi; "
       "e2fsck -fn {dev} 2>&1; echo \"RC $?\"")
XFS = ("out=$(xfs_repair -n {dev} 2>&1); rc=$?; "
       "if echo \"$out\" | grep -q metadata.changes.in.a.log; then "
       "mkdir -p /tmp/rehost-replay; mount -t xfs {dev} /tmp/rehost-replay 2>&1 && "
       "umount /tmp/rehost-replay; echo \"REPLAY $?\"; out=$(xfs_repair -n {dev} 2>&1); rc=$?; "
       "fi; echo \"$out\"; echo \"RC $rc\"")
BTRFS = "btrfs check --readonly {dev} 2>&1; echo \"RC $?\""
SCRIPTS = {"ext2": ("e2fsck", EXT), "ext3": ("e2fsck", EXT), "ext4": ("e2fsck", EXT),
           "xfs": ("xfs_repair", XFS), "btrfs": ("btrfs check", BTRFS)}
MARK = re.compile(r"^(REPLAY|RC) (\d+)$", re.M)


def script_for(volume: FsVolume, device: str = "") -> str:
    """The appliance script that checks the volume on its kernel device, '' if no checker."""
    if volume.fs not in SCRIPTS or volume.subvol:
        return ""
    return SCRIPTS[volume.fs][1].format(dev=shlex.quote(device or volume.key))


def verdict_of(volume: FsVolume, output: str) -> FsckVerdict:
    """Judge the script's output: its RC line, and its REPLAY line when a journal was replayed."""
    tool = SCRIPTS[volume.fs][0]
    marks = dict(MARK.findall(output))
    body = MARK.sub("", output).strip()
    tail = " | ".join(line.strip() for line in body.splitlines()[-3:])
    if "RC" not in marks:
        return FsckVerdict(volume, "not_checked", tool,
                           f"{tool} did not run in the appliance: {tail or 'no output'}")
    replayed = "REPLAY" in marks
    replay_limit = 4 if tool == "e2fsck" else 1  # e2fsck 1/2: fixed; mount: any non-zero
    if replayed and int(marks["REPLAY"]) >= replay_limit:
        return FsckVerdict(volume, "errors", tool,
                           f"the journal could not be replayed (exit {marks['REPLAY']}): {tail}")
    if int(marks["RC"]) != 0:
        return FsckVerdict(volume, "errors", tool, f"exit {marks['RC']}"
                           + (" after journal replay" if replayed else "") + f": {tail}")
    return FsckVerdict(volume, "replayed" if replayed else "clean", tool)
