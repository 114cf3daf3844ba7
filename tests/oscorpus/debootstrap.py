"""debootstrap with its downloads cached as a tarball (--make-tarball / --unpack-tarball)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .cache import cache_dir, progress, run, text_hash
from .mounts import in_chroot
from .recipe import MIRROR, SUITE, Packages


def tarball(packages: Packages) -> Path:
    """The cached debootstrap tarball of this package set, downloaded when absent."""
    path = cache_dir() / f"debootstrap-{SUITE}-{text_hash(packages.key())}.tgz"
    if path.exists():
        return path
    work = cache_dir() / f"{path.stem}.work"
    partial = path.with_name(path.name + ".partial")
    run("rm", "-rf", work)
    progress(f"downloading {SUITE} packages ({packages.key()}) into {path.name}")
    run("debootstrap", *_options(packages.include), f"--make-tarball={partial}", SUITE, work,
        MIRROR)
    run("rm", "-rf", work)
    partial.replace(path)
    return path


def unpack(packages: Packages, root: Path) -> None:
    """debootstrap the package set into `root` from its cached tarball (no network)."""
    progress(f"debootstrap {SUITE} into {root}")
    run("debootstrap", *_options(packages.include), f"--unpack-tarball={tarball(packages)}",
        SUITE, root, MIRROR)


def install_later(packages: Packages, root: Path) -> None:
    """apt-get installs the `later` packages; their debs are kept in the cache for next time."""
    if not packages.later:
        return
    debs = cache_dir() / f"apt-archives-{SUITE}"
    (debs / "partial").mkdir(parents=True, exist_ok=True)
    archives = root / "var/cache/apt/archives"
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")  # only when a deb is not cached
    progress(f"installing {', '.join(packages.later)} in the chroot (debs cached in {debs})")
    run("mount", "--bind", debs, archives)
    try:
        in_chroot(root, "apt-get update -q && apt-get install -y -q --no-install-recommends "
                  f"{' '.join(packages.later)}")
    finally:
        run("umount", archives)
    (root / "etc/resolv.conf").unlink()


def _options(include: tuple[str, ...]) -> list[str]:
    """debootstrap options shared by --make-tarball and --unpack-tarball."""
    return ["--variant=minbase", f"--include={','.join(include)}"]
