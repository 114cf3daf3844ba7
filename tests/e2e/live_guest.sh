#!/bin/sh
# The live-source guest's test script (run at boot from the control disk, output on ttyS1):
# an XFS LV in a VG with free extents on disk 1 (LVM snapshot) and an ext4 partition on disk 2
# (fsfreeze), static files whose SHA-256 it prints, writers creating, renaming and deleting
# files on both until the VM is killed, and the agent imported and running.
set -u
# the serial getty on ttyS0 (the kernel console) hangs up the tty when it starts, which cut
# this script off: its output goes to the second serial port, which has no getty
exec > /dev/ttyS1 2>&1
echo LIVE-CONSOLE
fail() { echo "LIVE-FAIL $*"; exit 1; }
. /mnt/ctl/env
# udev loads the NIC's driver (e1000) and renames eth0 while this unit starts: wait for the
# interface under its final name (settled), retry while a rename races with us
up=""
for i in $(seq 1 60); do
    udevadm settle
    IF=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
    if [ -n "$IF" ] && ip link set "$IF" up 2> /dev/null; then
        ip addr add 10.0.2.15/24 dev "$IF" && ip route add default via 10.0.2.2 && up=1
        break
    fi
    sleep 1
done
[ -n "$up" ] || fail "network: no interface came up in 60 s (${IF:-none})"
# SATA disks probe in any order: the VM's disks 1 and 2 are found by their serial numbers
LVMDISK=$(readlink -f /dev/disk/by-id/ata-QEMU_HARDDISK_rehost1)
EXTDISK=$(readlink -f /dev/disk/by-id/ata-QEMU_HARDDISK_rehost2)
for d in "$LVMDISK" "$EXTDISK"; do
    [ "$(blockdev --getsize64 "$d")" = "$DISK_BYTES" ] || fail "$d is not $DISK_BYTES bytes"
done
echo "LIVE-DISKS $LVMDISK $EXTDISK"
mbr() {  # one MBR partition from 1 MiB to the end, of type $2 (minbase has no sfdisk)
    python3 - "$1" "$2" <<'PY'
import struct, sys
dev, ptype = sys.argv[1], int(sys.argv[2], 16)
sectors = int(open("/sys/block/%s/size" % dev.rsplit("/", 1)[1]).read())
entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", ptype, b"\0\0\0", 2048, sectors - 2048)
with open(dev, "r+b") as disk:
    disk.seek(446)
    disk.write(entry + bytes(48) + b"\x55\xaa")
PY
    # udev may still be probing the disk (EBUSY): settle and retry, then let partx add it
    udevadm settle
    for i in 1 2 3 4 5 6 7 8 9 10; do
        blockdev --rereadpt "$1" 2> /dev/null && break
        sleep 1
        udevadm settle
    done
    [ -e "${1}1" ] || partx -a "$1" || return 1
    udevadm settle
    [ -e "${1}1" ]
}
mbr "$LVMDISK" 8e || fail "partition table of $LVMDISK"
mbr "$EXTDISK" 83 || fail "partition table of $EXTDISK"
udevadm settle
pvcreate -q -y "${LVMDISK}1" && vgcreate -q live "${LVMDISK}1" &&
    lvcreate -q -y -L "$LV_MIB"M -n data live || fail "lvm"
mkfs.xfs -q /dev/live/data || fail "mkfs.xfs"
mkfs.ext4 -q "${EXTDISK}1" || fail "mkfs.ext4"
mkdir -p /mnt/xfs /mnt/ext4
mount /dev/live/data /mnt/xfs && mount "${EXTDISK}1" /mnt/ext4 || fail "mount"
for fs in xfs ext4; do
    mkdir /mnt/$fs/static
    for i in $(seq 1 "$STATIC_FILES"); do
        head -c $((i * 64 * 1024)) /dev/urandom > /mnt/$fs/static/s$i
    done
    (cd /mnt/$fs && sha256sum static/*) | sed "s/^/STATIC $fs /"
done
sync
writer() {
    n=0
    while :; do
        n=$((n + 1))
        head -c $(( (n % 4 + 1) * 256 * 1024 )) /dev/urandom > "$1/w$n.tmp" &&
            mv "$1/w$n.tmp" "$1/w$n"
        [ $n -gt 6 ] && rm -f "$1/w$((n - 6))"
        [ $((n % 10)) = 0 ] && echo "LIVE-WROTE $1 $n"
        sleep 0.3
    done
}
writer /mnt/xfs &
writer /mnt/ext4 &
AGENT="python3 /mnt/ctl/rehost-agent.pyz"
$AGENT import --endpoint "$ENDPOINT" --code "$CODE" --system-disk "$LVMDISK" \
    --data-disk "$EXTDISK" --state-dir /var/lib/rehost-agent || fail "agent import"
echo LIVE-IMPORTED
exec $AGENT run --state-dir /var/lib/rehost-agent --poll-interval 0.5 \
    --snapshot-percent 50 --freeze-limit 120
