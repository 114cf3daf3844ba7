"""An in-memory GuestShell: files in a dict, the guest's programs answered from a set."""

from __future__ import annotations

import re
from collections.abc import Sequence


class FakeGuest:
    """Records every script run 'in the guest'; knows which programs and units it has."""

    def __init__(self, files: dict[str, str], *, programs: set[str], enabled_units: set[str],
                 uuids: dict[str, str], os_type: str = "linux") -> None:
        self.files = dict(files)
        self.programs_present = programs
        self.enabled_units = set(enabled_units)
        self.uuids = uuids
        self.scripts: list[str] = []
        self.kind = os_type
        self.blobs: dict[str, bytes] = {}  # binary files: initramfs images

    def os_type(self) -> str:
        return self.kind

    def sh(self, script: str) -> str:
        self.scripts.append(script)
        regen = re.match(r"out=\$\((\S+)", script)
        if regen:
            return "ok" if regen.group(1) in self.programs_present else "failed"
        return ""

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def programs(self, names: Sequence[str]) -> set[str]:
        return {n for n in names if n in self.programs_present}

    def wanted_units(self, units: Sequence[str]) -> set[str]:
        return {u for u in units if u in self.enabled_units}

    def disable_unit(self, unit: str) -> None:
        self.scripts.append(f"systemctl disable {unit}")
        self.enabled_units.discard(unit)

    def write(self, path: str, text: str) -> None:
        self.files[path] = text

    def ls(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})

    def read_bytes(self, path: str) -> bytes | None:
        return self.blobs.get(path)

    def read_files(self, paths: list[str]) -> list[bytes | None]:
        return [self.blobs[p] if p in self.blobs else
                self.files[p].encode() if p in self.files else None for p in paths]

    def write_bytes(self, path: str, data: bytes) -> None:
        self.blobs[path] = data

    def remove(self, path: str) -> None:
        self.files.pop(path, None)

    def uuid(self, device: str) -> str | None:
        return self.uuids.get(device)
