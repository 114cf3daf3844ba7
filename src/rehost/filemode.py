"""Least privilege on disk: what `rehost server` creates is private to its user (and group).

Without a group: umask 077, data dir 0700, database files 0600. With `--file-group G`:
umask 027 and a set-group-id data dir (2750) owned by G, so new files are 0640 and new
folders 2750 in group G (e.g. a backup user may read images but not change them).
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from rehost.config import SettingsError

PRIVATE_UMASK, GROUP_UMASK = 0o077, 0o027


def group_id(name: str) -> int:
    """The id of a group name (or number), else SettingsError naming --file-group."""
    try:
        return int(name) if name.isdigit() else grp.getgrnam(name).gr_gid
    except KeyError as exc:
        raise SettingsError(
            f"--file-group {name!r}: no such group; create it or pick an existing one. "
            f"--file-group {name!r}：不存在该用户组；请先创建或选择已有用户组。") from exc


def dir_mode(group: str) -> int:
    """Mode of the data dir and the folders made in it."""
    return 0o2750 if group else 0o700


def file_mode(group: str) -> int:
    """Mode of the database and image files."""
    return 0o640 if group else 0o600


def apply(data_dir: Path, *, group: str = "") -> None:
    """Set this process's umask and make `data_dir` private (created if missing)."""
    os.umask(GROUP_UMASK if group else PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    if group:
        os.chown(data_dir, -1, group_id(group))
    os.chmod(data_dir, dir_mode(group))


def restrict_file(path: Path, *, group: str = "") -> None:
    """Give an existing file (an old world-readable database) the private mode."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) != file_mode(group):
        if group:
            os.chown(path, -1, group_id(group))
        os.chmod(path, file_mode(group))
