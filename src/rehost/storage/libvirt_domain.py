"""libvirt XML for a published image: a dir pool, its volumes, and the domain (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from rehost.domain.publish import MachineSize

OVMF_PAIRS = (
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
)


@dataclass(frozen=True, slots=True)
class DomainDisk:
    """A volume attached as a virtio disk."""

    pool: str
    volume: str
    format: str


@dataclass(frozen=True, slots=True)
class DomainSpec:
    """Everything the domain XML says."""

    name: str
    title: str
    description: str
    domain_type: str  # kvm | qemu
    boot_mode: str  # BIOS | UEFI
    size: MachineSize
    disks: tuple[DomainDisk, ...]
    console_log: str
    network: str = ""
    uuid: str = ""  # the existing domain's, when redefining it
    disk_bus: str = "virtio"  # or sata, for guests without virtio drivers


def domain_name(image_id: str) -> str:
    """The libvirt domain of an image."""
    return f"rehost-{image_id}"


def volume_name(image_id: str, index: int, fmt: str) -> str:
    """The pool volume of an image's disk."""
    return f"{image_id}-disk-{index}.{fmt}"


def pool_xml(name: str, path: str) -> str:
    """A directory storage pool."""
    pool = ET.Element("pool", type="dir")
    ET.SubElement(pool, "name").text = name
    ET.SubElement(ET.SubElement(pool, "target"), "path").text = path
    return ET.tostring(pool, encoding="unicode")


def volume_xml(name: str, capacity_bytes: int, fmt: str) -> str:
    """A volume of `capacity_bytes` in `fmt` (raw files stay sparse: allocation 0)."""
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(capacity_bytes)
    ET.SubElement(vol, "allocation", unit="bytes").text = "0"
    ET.SubElement(ET.SubElement(vol, "target"), "format", type=fmt)
    return ET.tostring(vol, encoding="unicode")


def _ovmf() -> tuple[str, str]:
    """Debian's OVMF code and variables template (the 4 MiB build when installed)."""
    return next(((c, v) for c, v in OVMF_PAIRS if Path(c).exists() and Path(v).exists()),
                OVMF_PAIRS[0])


def _os(root: ET.Element, spec: DomainSpec) -> None:
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    if spec.boot_mode == "UEFI":
        code, template = _ovmf()
        ET.SubElement(os_el, "loader", readonly="yes", type="pflash").text = code
        ET.SubElement(os_el, "nvram", template=template)
    ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    # RHEL 9 and newer kernels need x86-64-v2: never the qemu64 default
    ET.SubElement(root, "cpu", mode="host-passthrough" if spec.domain_type == "kvm"
                  else "maximum")


def _devices(root: ET.Element, spec: DomainSpec) -> None:
    devices = ET.SubElement(root, "devices")
    for n, disk in enumerate(spec.disks):
        el = ET.SubElement(devices, "disk", type="volume", device="disk")
        ET.SubElement(el, "driver", name="qemu", type=disk.format)
        ET.SubElement(el, "source", pool=disk.pool, volume=disk.volume)
        prefix = "vd" if spec.disk_bus == "virtio" else "sd"
        ET.SubElement(el, "target", dev=f"{prefix}{chr(ord('a') + n)}", bus=spec.disk_bus)
    if spec.network:
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "source", network=spec.network)
        ET.SubElement(nic, "model", type="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "log", file=spec.console_log, append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    ET.SubElement(devices, "memballoon", model="virtio")
    rng = ET.SubElement(devices, "rng", model="virtio")
    ET.SubElement(rng, "backend", model="random").text = "/dev/urandom"


def domain_xml(spec: DomainSpec) -> str:
    """The domain: virtio (or SATA) disks, boot mode, CPU and memory, a serial console."""
    root = ET.Element("domain", type=spec.domain_type)
    ET.SubElement(root, "name").text = spec.name
    if spec.uuid:
        ET.SubElement(root, "uuid").text = spec.uuid
    ET.SubElement(root, "title").text = spec.title
    ET.SubElement(root, "description").text = spec.description
    ET.SubElement(root, "memory", unit="MiB").text = str(spec.size.memory_mib)
    ET.SubElement(root, "vcpu").text = str(spec.size.vcpus)
    _os(root, spec)
    ET.SubElement(root, "clock", offset="utc")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                          ("on_crash", "destroy")):
        ET.SubElement(root, event).text = action
    _devices(root, spec)
    return ET.tostring(root, encoding="unicode")


def console_pty(live_xml: str) -> str:
    """The pty of a running domain's serial console ("" when it has none)."""
    source = ET.fromstring(live_xml).find("./devices/serial/source")
    return source.get("path", "") if source is not None else ""
