"""Transit failures, each with an SMC-style code the control plane shows on the job."""

from __future__ import annotations


class TransitError(Exception):
    """A failure that ends the job's sync with code (the agent sees it in an ERROR frame)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def disk_full(path: str) -> TransitError:
    """The transit's work directory ran out of space."""
    return TransitError(
        "Transit.DiskFull",
        f"the transit work directory is full while writing {path}; free space and start the job"
        f" again / 中转实例磁盘空间不足（{path}），请释放空间后重新启动任务",
    )


def digest_mismatch(what: str) -> TransitError:
    """End-to-end verification failed."""
    return TransitError(
        "Transit.DigestMismatch",
        f"checksum verification failed for {what}; start the job again"
        f" / 数据校验失败（{what}），请重新启动任务",
    )
