"""Errors raised by the disk format parsers."""


class DiskFormatError(Exception):
    """A disk or filesystem structure could not be read or is inconsistent."""


class DiskUnreadableError(DiskFormatError):
    """The disk file or device is missing or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"cannot read disk {path}: {reason} / 无法读取磁盘 {path}：{reason}"
        )
        self.path = path
        self.reason = reason
