"""debootstrap with its downloads cached as a tarball (--make-tarball / --unpack-tarball)."""

from __future__ import annotations

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
    run("debootstrap", *_options(packages, (*packages.include, *packages.later)),
        f"--make-tarball={partial}", SUITE, work, MIRROR)
    run("rm", "-rf", work)
    partial.replace(path)
    return path


def unpack(packages: Packages, root: Path) -> None:
    """debootstrap the package set into `root` from its cached tarball (no network)."""
    progress(f"debootstrap {SUITE} into {root}")
    run("debootstrap", *_options(packages, packages.include),
        f"--unpack-tarball={tarball(packages)}", SUITE, root, MIRROR)


def install_later(packages: Packages, root: Path) -> None:
    """apt-get installs the `later` packages from the debs the tarball left in the root."""
    if not packages.later:
        return
    progress(f"installing {', '.join(packages.later)} in the chroot (cached debs, no network)")
    in_chroot(root, f"apt-get install -y -q --no-download {' '.join(packages.later)}")


def _options(packages: Packages, include: tuple[str, ...]) -> list[str]:
    """debootstrap options shared by --make-tarball and --unpack-tarball."""
    return ["--variant=minbase", f"--include={','.join(include)}"]
