"""Debian kernel for the sample guests: downloaded with apt-get once, extracted and cached.

Cache: `$REHOST_CACHE_DIR` (or the older `$REHOST_TEST_CACHE`), else `/var/cache/rehost` when
writable, else `~/.cache/rehost`; the kernel lives under `<cache>/sample-kernel/`.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# load order matters for insmod: dependencies first (resolved from each module's .modinfo)
BOOT_MODULES = ("virtio_pci", "virtio_blk", "crc32c_generic", "ext4")
META_PACKAGE = "linux-image-amd64"
CACHE_SUBDIR = "sample-kernel"


@dataclass(frozen=True, slots=True)
class Kernel:
    """An extracted kernel: image, config and the modules the initramfs loads, in load order."""

    version: str
    vmlinuz: Path
    config: Path
    modules_dir: Path
    boot_modules: tuple[Path, ...]


def cache_dir() -> Path:
    """Where downloads and extracted kernels are kept between runs."""
    for name in ("REHOST_CACHE_DIR", "REHOST_TEST_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]) / CACHE_SUBDIR
    default = Path("/var/cache/rehost")
    writable = os.access(default if default.exists() else default.parent, os.W_OK)
    base = default if writable else Path.home() / ".cache" / "rehost"
    return base / CACHE_SUBDIR


class KernelFetchError(RuntimeError):
    """The Debian kernel package could not be downloaded or unpacked (bilingual message)."""


def debian_kernel(cache: Path | None = None) -> Kernel:
    """The cached Debian kernel, downloading and extracting it on first use."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with _locked(cache / ".lock"):
        ready = sorted(cache.glob("kernel-*/READY"))
        if not ready:
            _fetch(cache)
            ready = sorted(cache.glob("kernel-*/READY"))
        return _load(ready[-1].parent)


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise cache writers (pytest-xdist workers, parallel sessions)."""
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch(cache: Path) -> None:
    """Download the current kernel package and keep only what the guests need."""
    try:
        package = _download(cache)
    except KernelFetchError:
        if os.geteuid() != 0:
            raise
        # a fresh machine may have empty or stale package lists: refresh them once, as root
        _run(["apt-get", "update", "-qq"])
        package = _download(cache)
    debs = cache / "debs"
    deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
    version = package.removeprefix("linux-image-")
    target = cache / f"kernel-{version}"
    with tempfile.TemporaryDirectory(dir=cache, prefix="extract-") as tmp_name:
        tmp = Path(tmp_name)
        _run(["dpkg-deb", "-x", str(deb), str(tmp)])
        shutil.rmtree(target, ignore_errors=True)
        (target / "boot").mkdir(parents=True)
        for name in ("vmlinuz", "config"):
            shutil.copy2(tmp / "boot" / f"{name}-{version}", target / "boot")
        src_modules = tmp / "lib" / "modules" / version
        for module in _resolve(src_modules, BOOT_MODULES):
            dest = target / "modules" / module.relative_to(src_modules)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(module, dest)
        for name in ("modules.builtin", "modules.order"):
            shutil.copy2(src_modules / name, target / "modules" / name)
    (target / "READY").write_text(version + "\n")


def _download(cache: Path) -> str:
    """apt-get download the versioned kernel package into cache/debs; its name."""
    package = _kernel_package()
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    if not list(debs.glob(f"{package}_*.deb")):
        _run(["apt-get", "download", package], cwd=debs)
    return package


def _kernel_package() -> str:
    """The versioned package the linux-image-amd64 meta package depends on."""
    out = _run(["apt-cache", "depends", META_PACKAGE])
    match = re.search(r"Depends: (linux-image-[0-9][^\s]*)", out)
    if match is None:
        raise KernelFetchError(
            f"Cannot resolve the kernel package behind {META_PACKAGE} (run `apt-get update`). "
            f"无法解析 {META_PACKAGE} 对应的内核软件包（请先运行 `apt-get update`）。")
    return match.group(1)


def _run(cmd: list[str], *, cwd: Path | None = None) -> str:
    """Run an apt/dpkg tool; a failure becomes a KernelFetchError with the tool's output."""
    try:
        done = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = (getattr(exc, "stderr", "") or str(exc)).strip()[-500:]
        raise KernelFetchError(
            f"Cannot fetch the sample kernel ({' '.join(cmd)}): {detail}. Check the apt sources "
            f"and network. 无法获取示例内核（{' '.join(cmd)}）：{detail}。请检查 apt 源和网络。"
        ) from exc
    return done.stdout


def _load(directory: Path) -> Kernel:
    """Describe a cached kernel directory."""
    version = (directory / "READY").read_text().strip()
    modules = directory / "modules"
    return Kernel(
        version=version,
        vmlinuz=directory / "boot" / f"vmlinuz-{version}",
        config=directory / "boot" / f"config-{version}",
        modules_dir=modules,
        boot_modules=tuple(_resolve(modules, BOOT_MODULES)),
    )


def _resolve(modules_dir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """The wanted modules and their dependencies, dependencies first."""
    index = {_norm(p.name.split(".ko")[0]): p for p in modules_dir.rglob("*.ko*")}
    ordered: list[Path] = []

    def visit(name: str) -> None:
        path = index.get(_norm(name))
        if path is None:
            raise KernelFetchError(f"kernel module {name} not found under {modules_dir}")
        if path in ordered:
            return
        for dep in _depends(path):
            visit(dep)
        ordered.append(path)

    for name in wanted:
        visit(name)
    return ordered


def _depends(module: Path) -> list[str]:
    """The `depends=` list from a module's .modinfo strings."""
    match = re.search(rb"\0depends=([^\0]*)\0", module.read_bytes())
    if match is None or not match.group(1):
        return []
    return match.group(1).decode().split(",")


def _norm(name: str) -> str:
    """Module names treat - and _ alike."""
    return name.replace("-", "_")
