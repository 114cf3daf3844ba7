"""debootstrap with its downloads cached as a tarball (--make-tarball / --unpack-tarball)."""

from __future__ import annotations

from pathlib import Path

from .cache import cache_dir, progress, run, text_hash
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
    run("debootstrap", *_options(packages), f"--make-tarball={partial}", SUITE, work, MIRROR)
    run("rm", "-rf", work)
    partial.replace(path)
    return path


def unpack(packages: Packages, root: Path) -> None:
    """debootstrap the package set into `root` from its cached tarball (no network)."""
    progress(f"debootstrap {SUITE} into {root}")
    run("debootstrap", *_options(packages), f"--unpack-tarball={tarball(packages)}", SUITE,
        root, MIRROR)


def _options(packages: Packages) -> list[str]:
    """debootstrap options shared by --make-tarball and --unpack-tarball."""
    options = ["--variant=minbase", f"--include={','.join(packages.include)}"]
    if packages.exclude:
        options.append(f"--exclude={','.join(packages.exclude)}")
    return options
