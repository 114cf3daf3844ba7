"""A guest's root filesystem edited through libguestfs (guestfish --listen / --remote).

The guest's own programs (update-initramfs, dracut, grub-mkconfig) run inside the libguestfs
appliance VM, chrooted into the guest, never on this host. LIBGUESTFS_BACKEND=direct: the
appliance is a plain QEMU child (KVM when /dev/kvm works, TCG otherwise), no libvirtd.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shlex
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

from rehost.imaging.applianceinfo import wrapped
from rehost.imaging.errors import ImagingError
from rehost.imaging.guestmount import mount_plan, parse_probe, probe_script
from rehost.imaging.verify import kvm_usable, mark_kvm_broken

GUESTFISH = "guestfish"
START_TIMEOUT_S = 600.0
KVM_START_TIMEOUT_S = 120.0  # KVM boots the appliance in seconds; longer means it hangs
COMMAND_TIMEOUT_S = 1800.0
LISTEN_TIMEOUT_S = 60.0  # the listener only parses its arguments and forks: no appliance yet
# where the listener binds (fish/rc.c: always under /tmp, whatever TMPDIR says)
SOCKET_PATH = "/tmp/.guestfish-{euid}/socket-{pid}"
PROC_NET_UNIX = Path("/proc/net/unix")
SO_ACCEPTCON = 0x10000  # /proc/net/unix Flags: the socket listens
APPLIANCE_SMP_MAX = 4
BATCH_READ_MAX = 2 << 20  # read_files: guestfish replies are at most 4 MiB (base64 inside)
APPLIANCE_MEMSIZE_MB = 2048  # libguestfs' default 1280: dracut/update-initramfs use tmpfs
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# the daemon's own PATH need not hold the guest's sbin directories
GUEST_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C; "
             "export PATH LC_ALL; ")


class GuestfishError(ImagingError):
    """libguestfs could not open or edit the guest."""

    code = "Adapt.Failed"


class GuestShell(Protocol):
    """A mounted guest root: files read and written, the guest's commands run in the guest."""

    def sh(self, script: str) -> str:
        """Run a /bin/sh script inside the guest; its stdout."""

    def read(self, path: str) -> str | None:
        """A file's text, None when it is not a regular file."""

    def write(self, path: str, text: str) -> None:
        """Replace a file's content."""

    def programs(self, names: Sequence[str]) -> set[str]:
        """Which of the named programs are executables in the guest's BIN_DIRS."""

    def wanted_units(self, units: Sequence[str]) -> set[str]:
        """Which of the systemd units are enabled (linked in /etc/systemd/system/*.wants)."""

    def disable_unit(self, unit: str) -> None:
        """The unit disabled (systemctl offline, else its wants links removed)."""

    def ls(self, directory: str) -> list[str]:
        """Names in a directory; empty when it does not exist."""

    def read_bytes(self, path: str) -> bytes | None:
        """A file's bytes (an initramfs), None when it is not a regular file."""

    def read_files(self, paths: list[str]) -> list[bytes | None]:
        """Several small files' bytes at once (None for one that is not a regular file)."""

    def write_bytes(self, path: str, data: bytes) -> None:
        """Replace a file's content with bytes (its mode and owner kept)."""

    def remove(self, path: str) -> None:
        """Delete a file or symlink."""

    def uuid(self, device: str) -> str | None:
        """Filesystem UUID of an appliance device (/dev/sda1), None when it has none."""

    def os_type(self) -> str:
        """libguestfs' inspection of the guest: linux, windows, ..."""


class GuestfishShell:
    """GuestShell over one guestfish --listen process."""

    def __init__(self, pid: str) -> None:
        self._pid = pid
        self.probed_os = ""  # "linux" when mount_inspected found the root by its probe

    @property
    def pid(self) -> str:
        """The listener's process id."""
        return self._pid

    def run(self, *args: str, ok: bool = False, timeout_s: float = COMMAND_TIMEOUT_S) -> str:
        """One guestfish command; raises GuestfishError unless it succeeds (or ok=True)."""
        # a failing command makes the listener exit, unless prefixed with "-"
        command = [f"-{args[0]}" if ok else args[0], *args[1:]]
        proc = subprocess.run([GUESTFISH, f"--remote={self._pid}", "--", *command],
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout_s, check=False)
        if proc.returncode != 0 and not ok:
            # `debug sh` can fail silently: name the exit status and the command then
            detail = (proc.stderr or proc.stdout).strip()[-600:] or (
                f"exit status {proc.returncode}, no output: {' '.join(args)[:160]}")
            raise GuestfishError(f"guestfish {args[0]} failed: {detail}",
                                 f"guestfish {args[0]} 执行失败：{detail}")
        return proc.stdout if proc.returncode == 0 else ""

    def attempt(self, *args: str) -> str:
        """One command whose failure keeps the listener alive; its error text, '' on success."""
        proc = subprocess.run([GUESTFISH, f"--remote={self._pid}", "--", f"-{args[0]}",
                               *args[1:]], capture_output=True, text=True, errors="replace",
                              timeout=COMMAND_TIMEOUT_S, check=False)
        return "" if proc.returncode == 0 else (proc.stderr or proc.stdout).strip()[-600:] \
            or f"{args[0]} failed"

    def sh(self, script: str) -> str:
        """Run a /bin/sh script inside the guest; its stdout."""
        return self.run("sh", GUEST_ENV + script)

    def read(self, path: str) -> str | None:
        """A file's text, None when it is not a regular file."""
        if self.run("is-file", path, "followsymlinks:true", ok=True).strip() != "true":
            return None
        text = self.run("cat", path)
        return text[:-1] if text.endswith("\n") else text  # guestfish prints one more newline

    def write(self, path: str, text: str) -> None:
        """Replace a file's content."""
        self.run("write", path, text)

    def programs(self, names: Sequence[str]) -> set[str]:
        """One guest script: [ -x ] over BIN_DIRS (busybox/dash `command -v` answers differ)."""
        script = (f"for n in {' '.join(names)}; do for d in {' '.join(BIN_DIRS)}; do "
                  'if [ -x "$d/$n" ]; then echo "$n"; break; fi; done; done; true')
        return set(self.sh(script).split())

    def wanted_units(self, units: Sequence[str]) -> set[str]:
        """One probe for every unit (each guest command is a round trip to the appliance);
        -L: the links point at units that need not resolve in the guest root."""
        return set(self.sh(f"for u in {' '.join(units)}; do "
                           'for f in /etc/systemd/system/*.wants/"$u"; do [ -L "$f" ] && '
                           'echo "$u"; done; done; true').split())

    def disable_unit(self, unit: str) -> None:
        """systemctl works offline; without it (or if it fails) drop the wants links."""
        self.sh(f"systemctl disable {unit} >/dev/null 2>&1 || "
                f"rm -f /etc/systemd/system/*.wants/{unit}; true")

    def ls(self, directory: str) -> list[str]:
        """Names in a directory; empty when it does not exist."""
        if self.run("is-dir", directory, ok=True).strip() != "true":
            return []
        return [n for n in self.run("ls", directory).splitlines() if n]

    def read_bytes(self, path: str) -> bytes | None:
        """A file's bytes (an initramfs), None when it is not a regular file."""
        if self.run("is-file", path, "followsymlinks:true", ok=True).strip() != "true":
            return None
        with tempfile.TemporaryDirectory(prefix="rehost-guest-") as tmp:
            local = Path(tmp) / "file"
            self.run("download", path, str(local))
            return local.read_bytes()

    def read_files(self, paths: list[str]) -> list[bytes | None]:
        """Several small files in one appliance script (tar, base64); each alone if too big."""
        listed = " ".join(shlex.quote(p.lstrip("/")) for p in paths)
        script = (f"cd /sysroot && for f in {listed}; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && "
                  "echo \"$f\"; done > /tmp/rehost-files; tar cf /tmp/rehost-files.tar "
                  "-T /tmp/rehost-files && if [ \"$(stat -c %s /tmp/rehost-files.tar)\" -le "
                  f"{BATCH_READ_MAX} ]; then base64 -w0 /tmp/rehost-files.tar; else echo TOOBIG; "
                  "fi; rm -f /tmp/rehost-files /tmp/rehost-files.tar")
        out = self.run("debug", "sh", wrapped(script)).strip()
        if out == "TOOBIG":
            return [self.read_bytes(p) for p in paths]
        found: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(out)), mode="r:") as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    found["/" + member.name.lstrip("/")] = handle.read()
        return [found.get("/" + p.lstrip("/")) for p in paths]

    def write_bytes(self, path: str, data: bytes) -> None:
        """Replace a file's content with bytes (upload truncates: mode and owner kept)."""
        with tempfile.TemporaryDirectory(prefix="rehost-guest-") as tmp:
            local = Path(tmp) / "file"
            local.write_bytes(data)
            self.run("upload", str(local), path)

    def remove(self, path: str) -> None:
        """Delete a file or symlink."""
        self.run("rm-f", path)

    def uuid(self, device: str) -> str | None:
        """Filesystem UUID of an appliance device (/dev/sda1), None when it has none."""
        return self.run("vfs-uuid", device, ok=True).strip() or None

    def os_type(self) -> str:
        """libguestfs' inspection of the guest: linux, windows, ..."""
        if self.probed_os:
            return self.probed_os
        roots = self.run("inspect-get-roots").split()
        return self.run("inspect-get-type", roots[0]).strip() if roots else "unknown"


@contextmanager
def open_guest(disk_paths: Sequence[Path]) -> Iterator[GuestfishShell]:
    """Launch the appliance read-write on the disks, mount the guest's filesystems by inspection."""
    with open_disks(disk_paths) as shell:
        mount_inspected(shell)
        yield shell


def appliance_smp() -> int:
    """vCPUs for the appliance: the host's cores, at most APPLIANCE_SMP_MAX (TCG is MTTCG)."""
    return max(1, min(APPLIANCE_SMP_MAX, os.cpu_count() or 1))


def mount_inspected(shell: GuestfishShell) -> None:
    """What guestfish -i does: the guest's filesystems mounted, / first.

    The probe (imaging.guestmount: one appliance script, < 1 s under TCG) finds a Linux root and
    its fstab; anything it cannot place is left to libguestfs' inspect-os (7-9 s under TCG).
    """
    disks = shell.run("list-devices").split()
    devices, found = parse_probe(shell.run("debug", "sh", wrapped(probe_script(disks))))
    plan = mount_plan(devices, found)
    if plan is not None:
        for mount in plan:
            if mount.mountpoint != "/" and shell.run(
                    "is-dir", mount.mountpoint, ok=True).strip() != "true":
                continue  # as inspection does: a mount point missing in the guest is skipped
            if mount.options:
                shell.run("mount-options", mount.options, mount.device, mount.mountpoint)
            else:
                shell.run("mount", mount.device, mount.mountpoint)
        shell.probed_os = "linux"
        return
    roots = shell.run("inspect-os").split()
    if not roots:
        raise GuestfishError("libguestfs found no operating system on the guest's disks",
                             "libguestfs 未在客户机磁盘上找到操作系统")
    pairs = [line.split(": ", 1) for line in
             shell.run("inspect-get-mountpoints", roots[0]).splitlines() if ": " in line]
    for mountpoint, device in sorted(pairs, key=lambda p: len(p[0])):
        shell.run("mount", device, mountpoint)


@contextmanager
def open_disks(disk_paths: Sequence[Path]) -> Iterator[GuestfishShell]:
    """The appliance launched read-write on the disks, nothing mounted (LVs active)."""
    args = [GUESTFISH, "--listen", "--rw"]
    for disk in disk_paths:
        args += ["-a", str(disk)]
    shell = GuestfishShell(_start(args))
    try:
        yield shell
        shell.run("umount-all")
        shell.run("sync")
    finally:
        shell.run("exit", ok=True)


def _start(args: list[str]) -> str:
    """The listener's pid, appliance launched; KVM first when usable (a hung KVM: TCG)."""
    env = {**os.environ, "LIBGUESTFS_BACKEND": os.environ.get("LIBGUESTFS_BACKEND", "direct"),
           "LIBGUESTFS_MEMSIZE": os.environ.get("LIBGUESTFS_MEMSIZE", str(APPLIANCE_MEMSIZE_MB))}
    if "LIBGUESTFS_BACKEND_SETTINGS" in os.environ:  # the operator chose the accelerator
        try:
            return _launch(args, env, START_TIMEOUT_S)
        except TimeoutError as exc:
            raise GuestfishError(str(exc), f"libguestfs 设备在 {START_TIMEOUT_S:.0f} 秒内未启动"
                                 ) from exc
    if kvm_usable():
        try:
            return _launch(args, env, KVM_START_TIMEOUT_S)
        except TimeoutError:
            mark_kvm_broken()
    try:
        return _launch(args, {**env, "LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"},
                               START_TIMEOUT_S)
    except TimeoutError as exc:
        raise GuestfishError(f"{exc} (TCG)", f"libguestfs 设备在 {START_TIMEOUT_S:.0f} 秒内未启动"
                             "（TCG）") from exc


def _launch(args: list[str], env: dict[str, str], timeout_s: float) -> str:
    """Start guestfish --listen (own process group), size and boot the appliance in timeout_s.

    On a timeout the whole group (listener and its QEMU) is killed and TimeoutError raised.
    """
    pid = launch_listener(args, env)
    GuestfishShell(pid).run("set-smp", str(appliance_smp()))
    proc = subprocess.Popen([GUESTFISH, f"--remote={pid}", "--", "launch"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    try:
        _out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait()
        _kill_group(int(pid))
        raise TimeoutError(f"libguestfs appliance did not start in {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        _kill_group(int(pid))
        detail = err.strip()[-600:]
        raise GuestfishError(f"libguestfs could not open the guest's disks: {detail}",
                             f"libguestfs 无法打开客户机磁盘：{detail}")
    return pid


def _kill_group(pid: int) -> None:
    """SIGKILL the listener's process group (its appliance QEMU is in it)."""
    with suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)


def launch_listener(args: list[str], env: dict[str, str],
                    timeout_s: float = LISTEN_TIMEOUT_S) -> str:
    """Run guestfish --listen in its own process group; the listener's pid (no appliance yet)."""
    # output to files, not pipes: the forked listener keeps them open for its whole life
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            proc = subprocess.Popen(args, stdout=out, stderr=err, env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise GuestfishError(f"cannot start libguestfs: {exc}; install libguestfs-tools",
                                 f"无法启动 libguestfs：{exc}；请安装 libguestfs-tools") from exc
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc.pid)
            raise GuestfishError(f"guestfish --listen did not start in {timeout_s:.0f} s",
                                 f"guestfish --listen 未在 {timeout_s:.0f} 秒内启动"
                                 ) from exc
        out.seek(0)
        err.seek(0)
        match = re.search(r"GUESTFISH_PID=(\d+)", out.read())
        if proc.returncode != 0 or match is None:
            detail = err.read().strip()[-600:]
            raise GuestfishError(f"libguestfs could not add the guest's disks: {detail}",
                                 f"libguestfs 无法添加客户机磁盘：{detail}")
        pid = match.group(1)
        if not _await_socket(int(pid), timeout_s):
            detail = err.read().strip()[-600:] or "no socket"
            _kill_group(int(pid))
            raise GuestfishError(f"guestfish --listen did not start listening: {detail}",
                                 f"guestfish --listen 未能开始监听：{detail}")
        return pid


def _await_socket(pid: int, timeout_s: float) -> bool:
    """Whether the listener's socket listens within timeout_s (False: it exited or hung).

    guestfish prints the pid of the forked listener before that child has bound its socket
    (fish/rc.c names the race); a `--remote` command sent in between finds no socket.
    """
    path = SOCKET_PATH.format(euid=os.geteuid(), pid=pid)
    deadline = time.monotonic() + timeout_s
    while not listening(path, PROC_NET_UNIX.read_text()):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def listening(path: str, proc_net_unix: str) -> bool:
    """Whether /proc/net/unix (Num RefCount Protocol Flags Type St Inode Path) lists a
    listening socket bound to path."""
    for line in proc_net_unix.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 8 and fields[7] == path and int(fields[3], 16) & SO_ACCEPTCON:
            return True
    return False
