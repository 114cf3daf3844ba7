#!/usr/bin/env bash
# Installs the Debian packages rehost needs, only when something is missing.
# usage: install-system-deps.sh demo|test
set -euo pipefail
profile="${1:-test}"
# command -> Debian package
declare -A need=(
  [mkfs.ext4]=e2fsprogs [e2fsck]=e2fsprogs [sfdisk]=fdisk [qemu-img]=qemu-utils
  [debugfs]=e2fsprogs [dumpe2fs]=e2fsprogs [resize2fs]=e2fsprogs [mke2fs]=e2fsprogs
  [lsblk]=util-linux [mkswap]=util-linux
  [blkid]=util-linux [mdir]=mtools [zstd]=zstd [lz4]=lz4
)
if [[ "$profile" == test || "$profile" == demo ]]; then
  need+=([qemu-system-x86_64]=qemu-system-x86 [rsync]=rsync [cpio]=cpio
         [busybox]=busybox-static [extlinux]=extlinux [mkfs.vfat]=dosfstools [mcopy]=mtools
         [grub-mkimage]=grub-common [grub-mkstandalone]=grub-common [syslinux]=syslinux
         [mmd]=mtools [dpkg-deb]=dpkg)
fi
if [[ "$profile" == test ]]; then
  # layouts of real servers (diskfmt tests) and OS adaptation (libguestfs)
  need+=([pvcreate]=lvm2 [lvcreate]=lvm2 [mkfs.xfs]=xfsprogs [xfs_db]=xfsprogs
         [xfs_repair]=xfsprogs [mkfs.btrfs]=btrfs-progs [fsck.vfat]=dosfstools
         [guestfish]=libguestfs-tools [virt-v2v-in-place]=virt-v2v [nbdkit]=nbdkit)
  # the real-Debian test corpus (tests/oscorpus): debootstrap onto loop devices
  need+=([debootstrap]=debootstrap [losetup]=mount [chroot]=coreutils)
  need+=([chromium]=chromium [chromedriver]=chromium-driver [pg_ctlcluster]=postgresql
         [curl]=curl [sha256sum]=coreutils  # tests/e2e/test_agent_installer.py
         [initdb]=postgresql [pg_dump]=postgresql-client [systemd-analyze]=systemd
         [debootstrap]=debootstrap [unshare]=util-linux [chroot]=coreutils)  # test_chroot_agent
  # make bench's anchors: partclone.ext4 | zstd | socat (bench/anchors.py), partclone.xfs
  # against the 16 GiB XFS-on-LVM disk (bench/xfs_lvm.py)
  need+=([partclone.ext4]=partclone [partclone.xfs]=partclone [socat]=socat [losetup]=mount)
  # publish targets started by tests/publish: a private libvirtd and a no-auth glance-api;
  # libvirt-dev + pkg-config + gcc build PyPI's libvirt-python (the publish extra)
  need+=([libvirtd]=libvirt-daemon-system [virsh]=libvirt-clients [unshare]=util-linux
         [glance-api]=glance-api [glance-manage]=glance-common [pkg-config]=pkg-config
         [gcc]=gcc [cmp]=diffutils)
fi
files=(/usr/share/OVMF/OVMF_CODE.fd:ovmf /usr/lib/syslinux/mbr/mbr.bin:syslinux-common
       /usr/lib/grub/x86_64-efi/modinfo.sh:grub-efi-amd64-bin /usr/lib/grub/i386-pc/modinfo.sh:grub-pc-bin
       /usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common
       /usr/share/zoneinfo/Asia/Shanghai:tzdata)  # the console shows times in a chosen zone
missing=()
# Debian's python3 has no ensurepip until python3-venv is installed (make creates a .venv)
py="${PYTHON:-python3}"
if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=("python3-venv")
fi
if [[ "$profile" == test ]]; then
  # OS adaptation: the libguestfs appliance boots the host's own kernel from /boot
  compgen -G "/boot/vmlinuz-*" >/dev/null || missing+=("linux-image-amd64")
  # libvirt-python (the publish extra) compiles against Python.h
  "$py" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(
      sysconfig.get_paths()["include"], "Python.h")))' || missing+=("python3-dev")
fi
for cmd in "${!need[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$cmd" && ! -x "/sbin/$cmd" ]] \
     && ! ls /usr/lib/postgresql/*/bin/"$cmd" >/dev/null 2>&1; then
    missing+=("${need[$cmd]}")
  fi
done
if [[ "$profile" == test ]]; then
  # console screenshots (docs/screenshots) need a CJK font in headless Chromium
  files+=(/usr/share/fonts/truetype/wqy/wqy-microhei.ttc:fonts-wqy-microhei)
  files+=(/usr/include/libvirt/libvirt.h:libvirt-dev
          /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so:libvirt-daemon-driver-qemu)
  # mkfs.xfs / xfs_repair inside the libguestfs appliance (file-level rebuild, XFS checks)
  files+=(/usr/lib/x86_64-linux-gnu/guestfs/supermin.d/packages-xfs:libguestfs-xfs)
fi
for entry in "${files[@]}"; do
  [[ -e "${entry%%:*}" ]] || missing+=("${entry##*:}")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "rehost: installing system packages: ${pkgs[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "rehost: need root to install ${pkgs[*]} (run: sudo apt-get install ${pkgs[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
