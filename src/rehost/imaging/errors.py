"""Imaging errors, each with an English and a Chinese message for the job log.

    ImagingError
     ├── ToolError               an external tool (sfdisk, resize2fs, qemu, ...) failed
     ├── InvalidSizeError        a target size that cannot be honoured as given
     ├── ShrinkBelowMinimumError target below the smallest size the disk can shrink to
     └── NotShrinkableError      the last partition's filesystem cannot be shrunk
"""

from __future__ import annotations


class ImagingError(Exception):
    """Base error; `message_en` and `message_zh` are shown to users."""

    code = "Imaging.Failed"

    def __init__(self, message_en: str, message_zh: str) -> None:
        super().__init__(f"{message_en} / {message_zh}")
        self.message_en = message_en
        self.message_zh = message_zh


class ToolError(ImagingError):
    """An external tool exited with an error."""

    code = "Imaging.ToolFailed"

    def __init__(self, command: list[str], returncode: int, output: str) -> None:
        name = command[0]
        tail = output.strip()[-800:]
        super().__init__(
            f"{name} failed with exit code {returncode}: {tail}",
            f"{name} 执行失败（退出码 {returncode}）：{tail}",
        )
        self.command = command
        self.returncode = returncode
        self.output = output


class InvalidSizeError(ImagingError):
    """A target size that is not usable (not sector-aligned, not positive)."""

    code = "Imaging.InvalidSize"


class ShrinkBelowMinimumError(ImagingError):
    """The requested size is below the disk's minimum size."""

    code = "Imaging.ShrinkBelowMinimum"

    def __init__(self, *, target_size_bytes: int, min_size_bytes: int, disk: str = "") -> None:
        gib = min_size_bytes / 2**30
        name_en, name_zh = (f"disk {disk}", f"磁盘 {disk} ") if disk else ("this disk", "该磁盘")
        super().__init__(
            f"target size {target_size_bytes} bytes is below the minimum size of {name_en}: "
            f"{min_size_bytes} bytes ({gib:.2f} GiB); choose at least that size",
            f"目标大小 {target_size_bytes} 字节小于{name_zh}可缩小到的最小值："
            f"{min_size_bytes} 字节（{gib:.2f} GiB），请至少设置为该值",
        )
        self.disk = disk
        self.target_size_bytes = target_size_bytes
        self.min_size_bytes = min_size_bytes


class NotShrinkableError(ImagingError):
    """The last partition holds a filesystem rehost cannot shrink."""

    code = "Imaging.NotShrinkable"

    def __init__(self, *, fs: str, min_size_bytes: int) -> None:
        shown = fs or "unknown"
        super().__init__(
            f"cannot shrink this disk: its last partition holds a {shown} filesystem, which "
            f"rehost can only shrink when it is ext2/3/4; "
            f"the smallest size is {min_size_bytes} bytes",
            f"无法缩小该磁盘：最后一个分区的文件系统为 {shown}，rehost 只能缩小 ext2/3/4 文件系统；"
            f"最小大小为 {min_size_bytes} 字节",
        )
        self.fs = fs
        self.min_size_bytes = min_size_bytes
