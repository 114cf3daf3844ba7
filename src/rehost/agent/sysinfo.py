"""The source's cores, memory, load and addresses for SMC's SystemInfo (Linux /proc, stdlib)."""

import fcntl
import os
import socket
import struct
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address
_GLOBAL_SCOPE = "00"  # /proc/net/if_inet6 scope of global addresses (not link or host)


class SystemInfo(NamedTuple):
    """What SystemInfo shows besides the disks (0 / empty when unknown)."""

    cpu_cores: int
    memory_bytes: int
    memory_available_bytes: int
    load_average: "List[float]"
    ip_addresses: "List[str]"

    @classmethod
    def from_dict(cls, data: "Dict[str, object]") -> "SystemInfo":
        """Build from a decoded JSON object (missing or bad fields read as unknown)."""
        def number(key: str) -> int:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0
        def items(key: str) -> "List[object]":
            value = data.get(key)
            return list(value) if isinstance(value, list) else []
        load = [float(v) for v in items("load_average") if isinstance(v, (int, float))]
        ips = [str(v) for v in items("ip_addresses") if isinstance(v, str)]
        return cls(number("cpu_cores"), number("memory_bytes"),
                   number("memory_available_bytes"), load, ips)


def _meminfo(text: str) -> "Dict[str, int]":
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            found[name.strip()] = int(fields[0]) * (1024 if fields[1:] == ["kB"] else 1)
    return found


def _ipv4() -> "List[str]":
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), SIOCGIFADDR,
                                     struct.pack("256s", name[:15].encode()))
            except OSError:  # an interface without an IPv4 address
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                found.append(address)
    return found


def _ipv6(text: str) -> "List[str]":
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[3] == _GLOBAL_SCOPE:
            raw = bytes.fromhex(fields[0])
            found.append(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def collect(proc: "Optional[Path]" = None) -> SystemInfo:
    """This machine's SystemInfo."""
    root = proc or Path("/proc")
    memory = _meminfo(_read(root / "meminfo"))
    load = [float(v) for v in _read(root / "loadavg").split()[:3]]
    try:
        ips = _ipv4()
    except OSError:
        ips = []
    return SystemInfo(
        cpu_cores=os.cpu_count() or 0, memory_bytes=memory.get("MemTotal", 0),
        memory_available_bytes=memory.get("MemAvailable", 0), load_average=load,
        ip_addresses=ips + _ipv6(_read(root / "net" / "if_inet6")),
    )
