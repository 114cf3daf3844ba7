"""The corpus cache under /var/cache/rehost/oscorpus: debootstrap tarballs and built images."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

CACHE_ENV = "REHOST_OSCORPUS_CACHE"
DEFAULT_CACHE = Path("/var/cache/rehost/oscorpus")
SOURCE_DIR = Path(__file__).resolve().parent
_started = time.monotonic()


def cache_dir() -> Path:
    """The cache directory (created); outside the tree so clean clones keep it."""
    path = Path(os.environ.get(CACHE_ENV, str(DEFAULT_CACHE)))
    path.mkdir(parents=True, exist_ok=True)
    return path


# modules that only find, copy or read built images: changing them rebuilds nothing
READERS = frozenset({"tree.py", "diskcheck.py", "corpus.py", "__main__.py", "__init__.py"})


def recipe_hash() -> str:
    """Hash of the builder's own source: a changed recipe means a rebuilt image."""
    digest = hashlib.sha256()
    for path in sorted(p for p in SOURCE_DIR.glob("*.py") if p.name not in READERS):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def text_hash(text: str) -> str:
    """Short hash of a text key."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def progress(message: str) -> None:
    """One progress line on stderr, with the seconds since the build started."""
    print(f"[oscorpus {time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr,
          flush=True)


def run(*args: str | os.PathLike[str], stdin: str | None = None, env: dict[str, str] | None
        = None) -> str:
    """Run a host tool; RuntimeError with its output tail when it fails."""
    proc = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True,
                          errors="replace", env=env)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise RuntimeError(f"{' '.join(map(str, args))[:300]} failed ({proc.returncode}): {tail}")
    return proc.stdout


def compress(raw: Path, target: Path) -> None:
    """raw image -> zstd file, written atomically (a killed build leaves no half entry)."""
    partial = target.with_name(target.name + ".partial")
    run("zstd", "-q", "-T0", "-3", "--sparse", "-f", raw, "-o", partial)
    partial.replace(target)


def decompress(packed: Path, raw: Path) -> Path:
    """zstd file -> sparse raw image at `raw`."""
    run("zstd", "-q", "-d", "--sparse", "-f", packed, "-o", raw)
    return raw
