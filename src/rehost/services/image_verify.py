"""Boot-verify a published image on demand (`POST /images/{id}/verify`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rehost.db.tables import ImageRow, JobRow
from rehost.domain import errors
from rehost.domain.errors import RehostError
from rehost.domain.ids import AccountId
from rehost.domain.models import EventLevel
from rehost.imaging.console import DEFAULT_SUCCESS_PATTERNS
from rehost.imaging.pipeline import DEFAULT_VERIFY_TIMEOUT_S, summary, verify_published
from rehost.imaging.verify import VerifyResult
from rehost.services import events, lookup
from rehost.services.context import ServiceContext
from rehost.storage.manifest import MANIFEST_FILE, ImageRecord, read_manifest

# (disks, image dir, boot mode, timeout, success patterns) -> result; the QEMU boot by default
Booter = Callable[..., VerifyResult]


@dataclass(frozen=True, slots=True)
class ImageVerification:
    """The outcome of one verification boot of an image."""

    image_id: str
    boot_mode: str
    result: VerifyResult
    summary: str


def verify_image(
    ctx: ServiceContext, account_id: AccountId, image_id: str, *,
    timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S, success_patterns: Sequence[str] = (),
    boot: Booter = verify_published,
) -> ImageVerification:
    """Boot the image's disks in its source's boot mode; store the result on image and job."""
    _check_patterns(success_patterns)
    record = _record(ctx, account_id, image_id)
    with _claim(image_id, record.path):
        result = _boot(record, timeout_s=timeout_s, success_patterns=success_patterns, boot=boot)
    text = summary(result)
    _store(ctx, account_id, image_id, text, result)
    return ImageVerification(image_id=image_id, boot_mode=record.boot_mode, result=result,
                             summary=text)


def _check_patterns(patterns: Sequence[str]) -> None:
    """Every success pattern must be a valid regular expression."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise errors.invalid(
                "SuccessPattern", f"Success pattern {pattern!r} is not a valid regex: {exc}.",
                f"成功匹配模式 {pattern!r} 不是有效的正则表达式：{exc}。",
            ) from exc


def _record(ctx: ServiceContext, account_id: AccountId, image_id: str) -> ImageRecord:
    """The image's manifest from its region's store directory (this server's disk)."""
    with ctx.db.read() as session:
        row = lookup.image_row(session, account_id, image_id)
        region = lookup.region_row(session, account_id, row.region_id)
        directory = Path(region.image_store_path) / row.id
    if not (directory / MANIFEST_FILE).is_file():
        raise errors.InvalidStatus(
            "Image.FilesMissing",
            f"The files of image {image_id} are not in {directory}; it cannot be booted here.",
            f"镜像 {image_id} 的文件不在 {directory}，无法在此启动验证。",
        )
    return read_manifest(directory)


@contextlib.contextmanager
def _claim(image_id: str, directory: Path) -> Iterator[None]:
    """One verification per image at a time (they share the console log).

    The claim is a lock on the image's directory, not process memory: API replicas sharing
    the store see it, and it ends with the process that held it.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise errors.from_catalogue(errors.InvalidStatus, "Image.VerifyInProgress",
                                        image_id=image_id) from exc
        yield
    finally:
        os.close(fd)


def _boot(record: ImageRecord, *, timeout_s: float, success_patterns: Sequence[str],
          boot: Booter) -> VerifyResult:
    """Run the boot; a missing QEMU/OVMF becomes a clear error."""
    disks = [record.path / d.file for d in sorted(record.disks, key=lambda d: d.index)]
    patterns = (*DEFAULT_SUCCESS_PATTERNS, *success_patterns) if success_patterns else ()
    try:
        return boot(disks, image_dir=record.path, boot_mode=record.boot_mode,
                    timeout_s=timeout_s, success_patterns=patterns)
    except (OSError, ValueError) as exc:
        raise errors.InvalidStatus(
            "Image.VerifyUnavailable",
            f"Cannot boot image {record.image_id}: {exc}. Install qemu-system-x86 and ovmf "
            f"(scripts/install-system-deps.sh demo).",
            f"无法启动镜像 {record.image_id}：{exc}。请安装 qemu-system-x86 和 ovmf"
            f"（scripts/install-system-deps.sh demo）。",
        ) from exc


def _store(ctx: ServiceContext, account_id: AccountId, image_id: str, text: str,
           result: VerifyResult) -> None:
    """Save the summary on the image and, when its job still exists, in the job's log."""
    with ctx.db.transaction() as session:
        row = session.get(ImageRow, image_id)
        if row is None:  # deleted while it booted
            return
        row.verify_result = text
        job = session.get(JobRow, row.job_id) if row.job_id else None
        if job is None:
            return
        events.add(
            session, job_id=job.id, account_id=account_id, now=ctx.now(),
            level=EventLevel.INFO if result.passed else EventLevel.WARNING,
            code="Image.Verified" if result.passed else "Image.VerifyFailed",
            message_en=f"Boot verification of image {image_id}: {text}",
            message_zh=f"镜像 {image_id} 启动验证：{text}",
            hint="" if result.passed else f"Read the console log {result.log_path}.",
        )


def is_verifying(ctx: ServiceContext, account_id: AccountId, image_id: str) -> bool:
    """Whether a verification boot of the image runs now (in any process sharing the store)."""
    try:
        directory = _record(ctx, account_id, image_id).path
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except (RehostError, OSError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # _claim holds it
    finally:
        os.close(fd)  # closing drops a lock this call took
    return False
