"""ConsoleWatcher: success/failure lines, prompts without newline, escape sequences."""

from __future__ import annotations

import pytest

from rehost.imaging.console import (
    DEFAULT_FAILURE_PATTERNS,
    DEFAULT_SUCCESS_PATTERNS,
    ConsoleWatcher,
    FailurePattern,
)


def _watcher(*extra: FailurePattern) -> ConsoleWatcher:
    return ConsoleWatcher(success_patterns=DEFAULT_SUCCESS_PATTERNS,
                          failure_patterns=[*extra, *DEFAULT_FAILURE_PATTERNS])


def test_marker_line_passes_only_once_complete() -> None:
    watcher = _watcher()
    assert watcher.feed(b"\x1b[0mREHOST-BOOT-OK root=ab") is None
    match = watcher.feed(b"cd data=none\r\n")
    assert match is not None and match.passed
    assert match.line == "REHOST-BOOT-OK root=abcd data=none"


def test_login_prompt_is_detected_when_console_goes_quiet() -> None:
    watcher = _watcher()
    assert watcher.feed(b"Debian GNU/Linux 12 host ttyS0\r\n\r\nhost login: ") is None
    match = watcher.idle()
    assert match is not None and match.passed and match.line == "host login:"


def test_grub_rescue_prompt_fails() -> None:
    watcher = _watcher()
    watcher.feed(b"error: unknown filesystem.\r\nEntering rescue mode...\r\ngrub rescue> ")
    match = watcher.idle()
    assert match is not None and not match.passed
    assert "rescue" in match.reason_en and "GRUB" in match.reason_zh


def test_failure_patterns_win_over_success_and_custom_ones_apply() -> None:
    watcher = _watcher(FailurePattern("REHOST-BOOT-FAIL", "guest check failed", "客户机检查失败"))
    match = watcher.feed(b"REHOST-BOOT-FAIL root device not found\n")
    assert match is not None and not match.passed and match.reason_en == "guest check failed"
    panic = _watcher().feed(b"[    1.2] Kernel panic - not syncing: VFS: Unable to mount root\n")
    assert panic is not None and not panic.passed and "panic" in panic.reason_en


def test_ordinary_lines_decide_nothing() -> None:
    watcher = _watcher()
    assert watcher.feed(b"[    0.000000] Linux version 6.1.0\nBooting from Hard Disk...\n") is None
    assert watcher.idle() is None


# recorded serial consoles (trimmed) of the dead ends a migrated guest stops at
INITRAMFS_SHELL = (
    b"Begin: Running /scripts/local-block ... done.\r\n"
    b"Gave up waiting for root file system device.  Common problems:\r\n"
    b" - Boot args (cat /proc/cmdline)\r\n"
    b"ALERT!  UUID=6f1c1c0e-5c1b-4f4e-9d0a-2b1f3f3e9a11 does not exist.  Dropping to a shell!\r\n"
    b"\r\n\r\nBusyBox v1.35.0 (Debian 1:1.35.0-4+b3) built-in shell (ash)\r\n"
    b"(initramfs) "
)
DEAD_ENDS = [
    (INITRAMFS_SHELL, "Gave up waiting for root", "gave up waiting for the root device"),
    (INITRAMFS_SHELL[INITRAMFS_SHELL.index(b"ALERT"):], "Dropping to a shell",
     "dropped to a shell"),
    (b"BusyBox v1.35.0 built-in shell (ash)\r\n(initramfs) ", "(initramfs)", "initramfs shell"),
    (b"[  OK  ] Reached target Emergency Mode.\r\nYou are in emergency mode. After logging in, "
     b"type \"journalctl -xb\"\r\nGive root password for maintenance\r\n(or press Control-D to "
     b"continue): ", "emergency mode", "emergency mode"),
    (b"Give root password for maintenance\r\n(or type Control-D to continue): ",
     "Give root password", "maintenance mode"),
    (b"[  182.1] dracut-initqueue[312]: Warning: dracut-initqueue: timeout, starting timeout "
     b"scripts\r\n[  183.0] dracut-initqueue[312]: Warning: Could not boot.\r\n"
     b"Entering emergency mode. Exit the shell to continue.\r\n",
     "Entering emergency mode", "emergency mode"),
    (b"Generating \"/run/initramfs/rdsosreport.txt\"\r\ndracut:/# ", "dracut:/#", "dracut"),
    (b"error: no such partition.\r\nEntering rescue mode...\r\ngrub rescue> ", "grub rescue>",
     "rescue"),
    (b"[    2.31] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on "
     b"unknown-block(0,0) ]---\r\n", "Kernel panic", "panicked"),
    (b"SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\nBooting from Hard Disk...\r\n"
     b"Boot failed: not a bootable disk\r\n\r\nNo bootable device.\r\n", "not a bootable disk",
     "not bootable"),
    (b"Booting from Floppy...\r\nNo bootable device.\r\n", "No bootable device", "no bootable"),
]


@pytest.mark.parametrize(("console", "line_part", "reason_part"), DEAD_ENDS,
                         ids=[d[1] for d in DEAD_ENDS])
def test_recorded_dead_ends_fail_naming_what_was_seen(
    console: bytes, line_part: str, reason_part: str
) -> None:
    watcher = _watcher()
    match = watcher.feed(console) or watcher.idle()
    assert match is not None and not match.passed, console
    assert line_part in match.line
    assert reason_part in match.reason_en and match.reason_zh


LOGIN_CONSOLES = [
    # kernel messages printed right after the prompt, on the same console line
    (b"Debian GNU/Linux 12 rehost-src-B ttyS0\r\n\r\nrehost-src-B login: [  103.84] kvm: "
     b"already loaded vendor module 'kvm_intel'\r\n", "rehost-src-B login:"),
    (b"Debian GNU/Linux 12 h ttyS0\r\n\r\nh login: [   12.002] random: crng init done\r\n"
     b"[   12.40] EXT4-fs (vda1): re-mounted. Quota mode: none.\r\n", "h login:"),
    (b"\x1b[0;32m  OK  \x1b[0m] Started getty@ttyS0.service\r\n\r\nCentOS Stream 9\r\n"
     b"Kernel 5.14.0-427.el9.x86_64 on an x86_64\r\n\r\ncs9 login: ", "cs9 login:"),
]


@pytest.mark.parametrize(("console", "line_part"), LOGIN_CONSOLES, ids=["kvm", "crng", "idle"])
def test_login_prompt_is_found_wherever_kernel_messages_interleave(
    console: bytes, line_part: str
) -> None:
    watcher = _watcher()
    match = watcher.feed(console) or watcher.idle()
    assert match is not None and match.passed, console
    assert line_part in match.line


def test_last_login_and_logind_lines_are_not_prompts() -> None:
    watcher = _watcher()
    assert watcher.feed(b"Last login: Tue Dec  1 23:10:01 UTC 2026 on ttyS0\r\n") is None
    assert watcher.feed(b"[  OK  ] Started systemd-logind.service - User Login Management.\r\n"
                        b"Begin: Waiting for root file system ... \r\n") is None
