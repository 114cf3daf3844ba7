"""Watches a guest's serial console for success and failure lines."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ANSI_ESCAPE = re.compile(rb"\x1b(?:\[[0-9;?=]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_])")
# a getty prompt is "<host> login:"; kernel messages may follow it on the same console line
# ("host login: [  103.84] kvm: ..."), so it need not end the line; "Last login:" is not one
LOGIN_PROMPT = r"(?:^|\s)(?![Ll]ast )\S+ login:(?:\s|$)|^login:(?:\s|$)"
DEFAULT_SUCCESS_PATTERNS = (LOGIN_PROMPT, r"REHOST-BOOT-OK")


@dataclass(frozen=True, slots=True)
class FailurePattern:
    """A console line that means the boot failed, with the reason shown to users."""

    pattern: str
    reason_en: str
    reason_zh: str


DEFAULT_FAILURE_PATTERNS: tuple[FailurePattern, ...] = (
    FailurePattern(r"No bootable device", "firmware found no bootable device",
                   "固件未找到可启动设备"),
    FailurePattern(r"not a bootable disk", "the system disk is not bootable (no boot code)",
                   "系统盘不可启动（引导区无引导代码）"),
    FailurePattern(r"Boot failed", "firmware could not boot the system disk",
                   "固件无法从系统盘启动"),
    FailurePattern(r"No bootable option", "UEFI firmware found no bootable option",
                   "UEFI 固件未找到可启动项"),
    FailurePattern(r"(?i)failed to load Boot", "UEFI firmware could not load the boot loader",
                   "UEFI 固件无法加载引导程序"),
    FailurePattern(r"^Shell>|UEFI Interactive Shell", "UEFI firmware fell back to its shell",
                   "UEFI 固件进入了 Shell（未找到引导程序）"),
    FailurePattern(r"grub rescue>", "GRUB stopped at its rescue prompt",
                   "GRUB 停在 rescue 提示符"),
    FailurePattern(r"^grub>\s*$", "GRUB stopped at its command prompt (bad grub.cfg?)",
                   "GRUB 停在命令行提示符（grub.cfg 有误？）"),
    FailurePattern(r"you need to load the kernel first", "GRUB could not load the kernel",
                   "GRUB 无法加载内核"),
    FailurePattern(r"^boot:\s*$", "syslinux stopped at its boot: prompt",
                   "syslinux 停在 boot: 提示符"),
    FailurePattern(r"^Failed to load", "the boot loader failed to load a file",
                   "引导程序加载文件失败"),
    FailurePattern(r"Missing operating system|Operating system not found|No operating system",
                   "the boot code found no operating system", "引导代码未找到操作系统"),
    FailurePattern(r"Gave up waiting for root (?:file system )?device",
                   "the initramfs gave up waiting for the root device (no driver for the disk?)",
                   "initramfs 等待根设备超时（缺少磁盘驱动？）"),
    FailurePattern(r"Dropping to a shell", "the initramfs could not find the root device and "
                   "dropped to a shell", "initramfs 未找到根设备，进入了 shell"),
    FailurePattern(r"^\(initramfs\)", "the boot stopped at the initramfs shell ((initramfs))",
                   "启动停在 initramfs shell（(initramfs)）"),
    FailurePattern(r"Give root password for maintenance|Press Enter for maintenance",
                   "the guest stopped in maintenance mode (asks for the root password)",
                   "客户机进入维护模式（要求输入 root 密码）"),
    FailurePattern(r"You are in emergency mode|Entering emergency mode",
                   "the guest entered emergency mode (dracut/systemd emergency shell)",
                   "客户机进入紧急模式（dracut/systemd 紧急 shell）"),
    FailurePattern(r"^dracut:/#", "the boot stopped at the dracut emergency shell",
                   "启动停在 dracut 紧急 shell"),
    FailurePattern(r"Kernel panic", "the guest kernel panicked", "客户机内核崩溃（Kernel panic）"),
    FailurePattern(r"KVM internal error|failed to set MSR",
                   "KVM could not run the guest", "KVM 无法运行客户机"),
)


@dataclass(frozen=True, slots=True)
class ConsoleMatch:
    """The first decisive console line: success or a failure with its reason."""

    passed: bool
    line: str
    reason_en: str
    reason_zh: str


class ConsoleWatcher:
    """Feeds raw console bytes in, reports the first success or failure line."""

    def __init__(
        self, *, success_patterns: Sequence[str], failure_patterns: Sequence[FailurePattern]
    ) -> None:
        self._success = [re.compile(p) for p in success_patterns]
        self._failure = [(re.compile(f.pattern), f) for f in failure_patterns]
        self._partial = b""

    def feed(self, data: bytes) -> ConsoleMatch | None:
        """Scan the complete lines in data; an unfinished line waits for more data or idle()."""
        text = ANSI_ESCAPE.sub(b"", self._partial + data).replace(b"\r", b"\n")
        *lines, self._partial = text.split(b"\n")
        for raw in lines:
            match = self._check(raw.decode("utf-8", "replace").strip())
            if match is not None:
                return match
        return None

    def idle(self) -> ConsoleMatch | None:
        """The console went quiet: a pending unfinished line is a prompt waiting for input."""
        return self._check(self._partial.decode("utf-8", "replace").strip())

    def _check(self, line: str) -> ConsoleMatch | None:
        """Classify one cleaned line."""
        if not line:
            return None
        for regex, failure in self._failure:
            if regex.search(line):
                return ConsoleMatch(False, line, failure.reason_en, failure.reason_zh)
        for regex in self._success:
            if regex.search(line):
                return ConsoleMatch(True, line, "success line seen", "检测到启动成功标志")
        return None
