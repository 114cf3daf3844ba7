"""The portable agent artefact: `rehost-agent.pyz`, a zipapp of the agent's import closure.

Built from the installed package (reproducibly: sorted entries, fixed timestamps, so the same
source always gives the same SHA-256) and cached per process; the control plane serves it at
`GET /agent/rehost-agent.pyz`. It runs on Python 3.6+ with the standard library alone.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rehost import __version__

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/rehost
# what the agent imports (tests/agent/test_portable_imports.py proves the closure)
CLOSURE = ("__init__.py", "agent", "wire.py", "chunkdigest.py", "diskfmt", "privatefile.py",
           "errorbody.py", "protocol")
SHEBANG = b"#!/usr/bin/env python3\n"
MAIN = """# -*- coding: utf-8 -*-
\"\"\"rehost-agent.pyz entry point (parses on Python 2 too, to refuse it clearly).\"\"\"
import sys

if sys.version_info < (3, 6):
    sys.stderr.write("rehost-agent: Python 3.6 or newer is required, this is %s. "
                     "需要 Python 3.6 或更高版本。\\n" % sys.version.split()[0])
    sys.exit(3)
from rehost.agent.cli import main

sys.exit(main())
""".encode()
EPOCH = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class AgentArtefact:
    """The zipapp bytes with its version and SHA-256 (hex)."""

    version: str
    data: bytes
    sha256: str


def _sources(root: Path) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    for name in CLOSURE:
        path = root / name
        paths = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        files.extend(("rehost/" + p.relative_to(root).as_posix(), p.read_bytes()) for p in paths)
    return sorted(files)


def build_artefact(root: Path = PACKAGE_ROOT) -> AgentArtefact:
    """Zip the closure (plus `__main__.py`) behind a python3 shebang."""
    buf = io.BytesIO()
    buf.write(SHEBANG)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("__main__.py", MAIN), *_sources(root)]:
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buf.getvalue()
    return AgentArtefact(__version__, data, hashlib.sha256(data).hexdigest())


@functools.cache
def agent_artefact() -> AgentArtefact:
    """The artefact of the running server's code (built once per process)."""
    return build_artefact()
