"""The imaging steps of a job's Processing: resize each disk, check them, boot-verify them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from rehost.imaging.adapt import AdaptOptions, AdaptReport, adapt_linux_guest
from rehost.imaging.checks import CheckResult, run_checks
from rehost.imaging.console import FailurePattern
from rehost.imaging.resize import ResizeResult, resize_disk
from rehost.imaging.verify import VerifyResult, verify_image

CONSOLE_LOG = "verify-console.log"
VERIFY_FILE = "verify.json"
DEFAULT_VERIFY_TIMEOUT_S = 300.0
# rehost's own guests (rehost.sample) print this when a self-check fails: fail at once
GUEST_FAILURES = (FailurePattern(r"REHOST-BOOT-FAIL", "the guest's self-check failed",
                                 "客户机自检失败"),)


@dataclass(frozen=True, slots=True)
class SizedDisk:
    """A target disk file and the size the job wants it to have."""

    index: int
    path: Path
    target_size_bytes: int


@dataclass(frozen=True, slots=True)
class Preparation:
    """What the imaging steps did before publishing."""

    resizes: tuple[ResizeResult, ...]
    checks: tuple[CheckResult, ...]
    adaptation: AdaptReport | None = None

    def lines(self) -> tuple[str, ...]:
        """One human line per step, for the image manifest."""
        out = [f"resize disk {r.path.name}: {r.action} {r.old_size_bytes} -> "
               f"{r.new_size_bytes} bytes{'; ' + r.note if r.note else ''}"
               for r in self.resizes]
        out += list(self.adaptation.lines()) if self.adaptation is not None else []
        out += [f"{c.name}: {c.status}: {c.message_en}" + (f" (hint: {c.hint})" if c.hint else "")
                for c in self.checks]
        return tuple(out)


def boot_mode_of(text: str) -> Literal["BIOS", "UEFI"]:
    """Normalise a reported boot mode ("UEFI"/"uefi"/"BIOS"/"") to BIOS or UEFI."""
    return "UEFI" if text.strip().upper() == "UEFI" else "BIOS"


def no_step(step: str) -> None:
    """Production: the imaging steps run back to back."""


def prepare_disks(disks: Sequence[SizedDisk], *, boot_mode: str, adapt: bool = False,
                  options: AdaptOptions = AdaptOptions(),
                  step: Callable[[str], None] = no_step) -> Preparation:
    """Resize every disk (system disk first), adapt the guest when asked, run the checks.

    `step("resized")` / `step("adapted")` are called as each step ends (a test's pause hook).
    """
    ordered = sorted(disks, key=lambda d: d.index)
    resizes = tuple(resize_disk(d.path, target_size_bytes=d.target_size_bytes) for d in ordered)
    step("resized")
    # on the working copy, before the checks: they must judge the disks that get published
    report = adapt_linux_guest([d.path for d in ordered], log=lambda c: None,
                               options=options) if adapt else None
    if adapt:
        step("adapted")
    checks = tuple(run_checks([d.path for d in ordered], boot_mode=boot_mode_of(boot_mode)))
    return Preparation(resizes=resizes, checks=checks, adaptation=report)


def verify_published(disk_paths: Sequence[Path], *, image_dir: Path, boot_mode: str,
                     timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S,
                     success_patterns: Sequence[str] = (),
                     verify: Callable[..., VerifyResult] = verify_image) -> VerifyResult:
    """Boot the image's disks; save the console log and verify.json beside the image."""
    kwargs: dict[str, object] = {"failure_patterns": GUEST_FAILURES}
    if success_patterns:
        kwargs["success_patterns"] = tuple(success_patterns)
    result = verify(list(disk_paths), boot_mode=boot_mode_of(boot_mode), timeout_s=timeout_s,
                    log_path=image_dir / CONSOLE_LOG, **kwargs)
    doc = asdict(result)
    doc["log_path"] = str(result.log_path)
    (image_dir / VERIFY_FILE).write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    return result


def summary(result: VerifyResult) -> str:
    """The short text stored on the image: 'passed: …' or 'failed: …'."""
    word = "passed" if result.passed else "failed"
    detail = result.matched_line or result.reason
    return f"{word}: {detail} ({result.duration_s:.1f} s, {result.accelerator or 'qemu'})"
