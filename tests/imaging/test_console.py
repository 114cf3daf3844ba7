"""ConsoleWatcher: success/failure lines, prompts without newline, escape sequences."""

from __future__ import annotations

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
