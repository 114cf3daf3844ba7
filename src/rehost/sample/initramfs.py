"""The sample guest's initramfs: busybox-static, the boot modules and an /init that checks.

The /init mounts the root (root=UUID=...) and the data disk (LABEL=rehost-data) read-only,
prints `REHOST-BOOT-OK root=<tree hash> data=<tree hash|none>` (or `REHOST-BOOT-FAIL <why>`)
and powers off. The cpio (newc) is written here, so nothing needs root or mounting.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from rehost.imaging.newc import Entry, write_newc
from rehost.sample.kernel import Kernel

BUSYBOX = Path("/bin/busybox")

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /usr/bin /usr/sbin /mnt/root /mnt/data
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "REHOST-BOOT-FAIL $*"; sync; poweroff -f; }
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" || fail "insmod $m"; done
root=""; data=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="${arg#root=}" ;;
    rehost.data=*) data="${arg#rehost.data=}" ;;
  esac
done
wait_dev() {
  i=0
  while [ "$i" -lt "$2" ]; do
    d=$(findfs "$1" 2>/dev/null) && [ -n "$d" ] && { echo "$d"; return 0; }
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
treehash() {
  (cd "$1" && find . -xdev -type f | sort | while IFS= read -r f; do sha256sum "$f"; done) \
    | sha256sum | cut -d' ' -f1
}
rdev=$(wait_dev "$root" 100) || fail "root device $root not found"
mount -t ext4 -o ro "$rdev" /mnt/root || fail "cannot mount root $rdev"
[ -f /mnt/root/etc/fstab ] || fail "root has no /etc/fstab"
rh=$(treehash /mnt/root)
dh=none
if [ -n "$data" ] && ddev=$(wait_dev "$data" 10); then
  mount -t ext4 -o ro "$ddev" /mnt/data || fail "cannot mount data $ddev"
  dh=$(treehash /mnt/data)
fi
echo "REHOST-BOOT-OK root=$rh data=$dh"
sync
poweroff -f
"""


def build_initramfs(kernel: Kernel, dest: Path) -> Path:
    """Write a gzip'd newc cpio with busybox, the boot modules and /init."""
    entries: list[tuple[str, int, bytes, int]] = []
    for directory in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "mnt"):
        entries.append((directory, 0o040755, b"", 0))
    entries.append(("dev/console", 0o020600, b"", os.makedev(5, 1)))
    entries.append(("bin/busybox", 0o100755, BUSYBOX.read_bytes(), 0))
    entries.append(("init", 0o100755, INIT_SCRIPT.encode(), 0))
    names = []
    for module in kernel.boot_modules:
        entries.append((f"lib/modules/{module.stem}.ko", 0o100644, module.read_bytes(), 0))
        names.append(module.stem)
    entries.append(("etc/modules", 0o100644, ("\n".join(names) + "\n").encode(), 0))
    dest.write_bytes(gzip.compress(write_newc(Entry(n, m, d, r) for n, m, d, r in entries),
                                  compresslevel=6, mtime=0))
    return dest
