"""Secrets on disk: files only their owner can read, replaced atomically."""

import os
from pathlib import Path


def write_private(path: Path, data: "bytes | str") -> None:
    """Write path with mode 0600 via a temporary file and rename: never half-written."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)  # an older tmp file may have had other bits
    os.replace(tmp, path)
