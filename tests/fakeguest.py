"""An in-memory GuestShell: files in a dict, the guest's programs answered from a set."""

from __future__ import annotations

import re


class FakeGuest:
    """Records every script run 'in the guest'; knows which programs and units it has."""

    def __init__(self, files: dict[str, str], *, programs: set[str], enabled_units: set[str],
                 uuids: dict[str, str], os_type: str = "linux") -> None:
        self.files = dict(files)
        self.programs = programs
        self.enabled_units = set(enabled_units)
        self.uuids = uuids
        self.scripts: list[str] = []
        self.kind = os_type
        self.blobs: dict[str, bytes] = {}  # binary files: initramfs images

    def os_type(self) -> str:
        return self.kind

    def sh(self, script: str) -> str:
        self.scripts.append(script)
        probe = re.match(r"for n in ([^;]+); do", script)
        if probe:
            return "\n".join(n for n in probe.group(1).split() if n in self.programs)
        wants = re.match(r"for u in ([^;]+); do for f in /etc/systemd/system/", script)
        if wants:
            return "\n".join(u for u in wants.group(1).split() if u in self.enabled_units)
        regen = re.match(r"out=\$\((\S+)", script)
        if regen:
            return "ok" if regen.group(1) in self.programs else "failed"
        disable = re.match(r"systemctl disable (\S+)", script)
        if disable:
            self.enabled_units.discard(disable.group(1))
        return ""

    def read(self, path: str) -> str | None:
        return self.files.get(path)

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
