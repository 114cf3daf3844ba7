"""Least privilege on disk: private data dir, database and files; optional read group."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehost import filemode
from rehost.config import Settings, SettingsError, load_settings
from rehost.services import bootstrap


@pytest.fixture(autouse=True)
def keep_umask() -> Iterator[None]:
    """filemode.apply sets the process umask: give the test process its own back."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    """Permission bits (with set-group-id)."""
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_database_and_new_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    filemode.apply(data)
    ctx = bootstrap.open_context(Settings(data_dir=data, print_credentials=False))
    creds = bootstrap.ensure_admin(ctx)
    image = data / "regions" / "x" / "disk-0.raw"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\0" * 512)
    ctx.db.dispose()
    assert mode(data) == 0o700
    assert mode(data / "rehost.db") == 0o600
    assert mode(image) == 0o600 and mode(image.parent) == 0o700
    assert creds is not None and mode(creds.path) == 0o600


def test_an_old_world_readable_database_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "rehost.db").touch(mode=0o644)
    os.chmod(data / "rehost.db", 0o644)
    bootstrap.open_context(Settings(data_dir=data)).db.dispose()
    assert mode(data) == 0o700 and mode(data / "rehost.db") == 0o600


def test_file_group_gives_the_group_read_access(tmp_path: Path) -> None:
    group = str(os.getgid())
    data = tmp_path / "data"
    filemode.apply(data, group=group)
    (data / "img").mkdir()
    (data / "img" / "disk-0.raw").write_bytes(b"x")
    assert mode(data) == 0o2750 and (data / "img").stat().st_gid == int(group)
    assert mode(data / "img" / "disk-0.raw") == 0o640


def test_bad_group_and_roots_fail_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--file-group"):
        filemode.apply(tmp_path / "d", group="no-such-group-rehost")
    for bad in ("relative", "/"):
        with pytest.raises(SettingsError, match="--image-store-root"):
            load_settings(data_dir=tmp_path, image_store_roots=[bad], env={})
    roots = load_settings(data_dir=tmp_path, env={"REHOST_IMAGE_STORE_ROOTS": "/srv/a:/srv/b"})
    assert roots.store_roots == (Path("/srv/a"), Path("/srv/b"))
    assert load_settings(data_dir=tmp_path, env={}).store_roots == (tmp_path,)
