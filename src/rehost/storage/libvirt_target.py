"""LibvirtPublisher: image disks into a storage pool (sparse upload), a domain defined per image."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rehost.domain import errors
from rehost.domain.publish import LibvirtTarget
from rehost.jsonvalue import JsonObject
from rehost.storage import libvirt_domain as xml
from rehost.storage.publish_ports import LaunchInfo, ProgressFn, PublishDisk, PublishOrder

CHUNK_BYTES = 4 << 20
PROGRESS_EVERY_BYTES = 64 << 20

try:  # the publish extra (libvirt-python); a server without it refuses libvirt targets clearly
    import libvirt
except ImportError:  # pragma: no cover - the test profile installs it
    libvirt = None


def _failed(what: str, exc: Exception) -> errors.RehostError:
    return errors.RehostError("Publish.LibvirtFailed", f"libvirt: {what} failed: {exc}",
                              f"libvirt：{what}失败：{exc}")


class _Counter:
    """Bytes walked through (data sent and holes skipped), reported every 64 MiB."""

    def __init__(self, progress: ProgressFn, remote: JsonObject, start: int) -> None:
        self.progress, self.remote, self.done, self.last = progress, remote, start, start

    def add(self, count: int) -> None:
        self.done += count
        if self.done - self.last >= PROGRESS_EVERY_BYTES:
            self.last = self.done
            self.progress(self.done, dict(self.remote))


def _hole_or_data(fd: int, size: int) -> tuple[bool, int]:
    """(in data?, length) of the section at fd's offset; (False, 0) at the end."""
    here = os.lseek(fd, 0, os.SEEK_CUR)
    if here >= size:
        return False, 0
    try:
        data = os.lseek(fd, here, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
        data = size  # only a hole is left
    if data > here:
        os.lseek(fd, here, os.SEEK_SET)
        return False, min(data, size) - here
    end = os.lseek(fd, here, os.SEEK_HOLE)
    os.lseek(fd, here, os.SEEK_SET)
    return True, min(end, size) - here


class LibvirtPublisher:
    """A libvirt host of a region (its URI, storage pool and optional network)."""

    def __init__(self, target: LibvirtTarget) -> None:
        if libvirt is None:
            raise errors.RehostError(
                "Publish.LibvirtMissing", "libvirt-python is not installed on this server: "
                "pip install 'rehost[publish]' (needs libvirt-dev) or Debian's python3-libvirt.",
                "本服务器未安装 libvirt-python：请执行 pip install 'rehost[publish]'（需要 "
                "libvirt-dev）或安装 Debian 的 python3-libvirt。")
        self.target = target

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        try:
            conn = libvirt.open(self.target.uri)
        except libvirt.libvirtError as exc:
            raise errors.RehostError(
                "Publish.LibvirtUnreachable", f"cannot connect to libvirt at {self.target.uri}: "
                f"{exc}; check the region's libvirt uri.", f"无法连接 libvirt {self.target.uri}："
                f"{exc}；请检查该地域的 libvirt uri。") from exc
        try:
            yield conn
        finally:
            conn.close()

    def _pool(self, conn: Any) -> Any:
        try:
            pool = conn.storagePoolLookupByName(self.target.pool)
        except libvirt.libvirtError:
            if not self.target.pool_path:
                raise errors.RehostError(
                    "Publish.PoolNotFound", f"libvirt has no storage pool {self.target.pool!r}; "
                    "create it or set the target's pool_path to let rehost create a dir pool.",
                    f"libvirt 没有存储池 {self.target.pool!r}；请先创建，或设置 pool_path 让 "
                    "rehost 创建目录存储池。") from None
            Path(self.target.pool_path).mkdir(parents=True, exist_ok=True)
            pool = conn.storagePoolDefineXML(xml.pool_xml(self.target.pool,
                                                          self.target.pool_path), 0)
            pool.setAutostart(1)
        if not pool.isActive():
            pool.create(0)
        pool.refresh(0)
        return pool

    def _domain_type(self, conn: Any) -> str:
        if self.target.domain_type:
            return self.target.domain_type
        try:
            conn.getDomainCapabilities(None, "x86_64", None, "kvm", 0)
            return "kvm"
        except libvirt.libvirtError:
            return "qemu"  # no /dev/kvm: TCG

    def _upload(self, conn: Any, vol: Any, disk: PublishDisk, count: _Counter) -> None:
        stream = conn.newStream(0)
        length = disk.path.stat().st_size
        with disk.path.open("rb") as f:
            fd = f.fileno()
            if disk.format == "raw":
                vol.upload(stream, 0, length, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)

                def send(_s: Any, nbytes: int, _o: Any) -> bytes:
                    data = os.read(fd, min(nbytes, CHUNK_BYTES))
                    count.add(len(data))
                    return data

                def skip(_s: Any, nbytes: int, _o: Any) -> int:
                    os.lseek(fd, nbytes, os.SEEK_CUR)
                    count.add(nbytes)
                    return 0

                stream.sparseSendAll(send, lambda _s, _o: list(_hole_or_data(fd, length)),
                                     skip, None)
            else:
                vol.upload(stream, 0, length, 0)
                stream.sendAll(lambda _s, n, _o: _read_counted(fd, n, count), None)
        stream.finish()

    def _volume(self, conn: Any, pool: Any, disk: PublishDisk, image_id: str, *,
                done: bool, count: _Counter) -> str:
        name = xml.volume_name(image_id, disk.index, disk.format)
        try:
            vol = pool.storageVolLookupByName(name)
        except libvirt.libvirtError:
            vol = None
        if vol is not None and done and vol.info()[1] == disk.size_bytes:
            count.add(disk.path.stat().st_size)  # finished by an earlier attempt: found, kept
            return name
        if vol is not None:
            vol.delete(0)  # an interrupted upload: start this disk again
        vol = pool.createXML(xml.volume_xml(name, disk.size_bytes, disk.format), 0)
        self._upload(conn, vol, disk, count)
        return name

    def publish(self, order: PublishOrder, *, progress: ProgressFn,
                start: bool) -> JsonObject:
        """Upload every disk (reusing finished ones), define the domain, start it if asked."""
        with self._connect() as conn:
            try:
                return self._publish(conn, order, progress, start)
            except libvirt.libvirtError as exc:
                raise _failed("publishing", exc) from exc

    def _publish(self, conn: Any, order: PublishOrder, progress: ProgressFn,
                 start: bool) -> JsonObject:
        pool = self._pool(conn)
        finished = set(order.previous.get("volumes_done", []))
        volumes: list[str] = []
        volumes_done: list[str] = []
        remote: JsonObject = {"uri": self.target.uri, "pool": self.target.pool,
                              "volumes": volumes, "volumes_done": volumes_done}
        count = _Counter(progress, remote, 0)
        disks = []
        for disk in order.disks:
            name = xml.volume_name(order.image_id, disk.index, disk.format)
            volumes.append(name)
            self._volume(conn, pool, disk, order.image_id, done=name in finished, count=count)
            volumes_done.append(name)
            progress(count.done, dict(remote))
            disks.append(xml.DomainDisk(self.target.pool, name, disk.format))
        spec = self._spec(conn, order, tuple(disks))
        dom = conn.defineXML(xml.domain_xml(spec))  # redefining the same name updates it
        remote.update(domain=spec.name, domain_type=spec.domain_type,
                      console_log=spec.console_log, vcpus=spec.size.vcpus,
                      memory_mib=spec.size.memory_mib, size_origin=spec.size.origin)
        if start and not dom.isActive():
            dom.create()
        remote["started"] = bool(dom.isActive())
        return remote

    def _spec(self, conn: Any, order: PublishOrder,
              disks: tuple[xml.DomainDisk, ...]) -> xml.DomainSpec:
        name = xml.domain_name(order.image_id)
        existing = [d.UUIDString() for d in conn.listAllDomains(0) if d.name() == name]
        return xml.DomainSpec(
            name=name, title=order.name, description=f"rehost image {order.image_id} "
            f"(source {order.source_id})", domain_type=self._domain_type(conn),
            boot_mode=order.boot_mode, size=order.size, disks=disks,
            console_log=f"{self.target.console_log_dir.rstrip('/')}/{name}-console.log",
            network=self.target.network, uuid=existing[0] if existing else "",
            disk_bus=self.target.disk_bus)

    def launch_info(self, remote: Mapping[str, Any], *, wait_ip_s: float) -> LaunchInfo:
        """State, console (log file, pty) and DHCP addresses of the published domain."""
        with self._connect() as conn:
            try:
                dom = conn.lookupByName(str(remote["domain"]))
                addresses = self._addresses(dom, wait_ip_s) if self.target.network else ()
                active = bool(dom.isActive())
                return LaunchInfo(domain=dom.name(), state="running" if active else "shut off",
                                  console_log=str(remote.get("console_log", "")),
                                  console_pty=xml.console_pty(dom.XMLDesc(0)) if active else "",
                                  addresses=addresses)
            except libvirt.libvirtError as exc:
                raise _failed("reading the test machine", exc) from exc

    def _addresses(self, dom: Any, wait_s: float) -> tuple[str, ...]:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                found = dom.interfaceAddresses(
                    libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
            except libvirt.libvirtError:
                found = {}
            addrs = tuple(a["addr"] for i in found.values() for a in i.get("addrs") or [])
            if addrs or time.monotonic() >= deadline:
                return addrs
            time.sleep(1.0)

    def revert(self, remote: Mapping[str, Any]) -> None:
        """Destroy and undefine the domain (and its UEFI variables), delete its volumes."""
        with self._connect() as conn:
            try:
                self._remove_domain(conn, str(remote.get("domain", "")))
                pool = conn.storagePoolLookupByName(str(remote.get("pool") or self.target.pool))
                pool.refresh(0)
                for name in remote.get("volumes", []):
                    if name in pool.listVolumes():
                        pool.storageVolLookupByName(name).delete(0)
            except libvirt.libvirtError as exc:
                raise _failed("removing the test machine", exc) from exc

    @staticmethod
    def _remove_domain(conn: Any, name: str) -> None:
        if not name or name not in [d.name() for d in conn.listAllDomains(0)]:
            return
        dom = conn.lookupByName(name)
        if dom.isActive():
            try:
                dom.destroy()
            except libvirt.libvirtError:
                if dom.isActive():  # else the guest powered off between the check and destroy
                    raise
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def _read_counted(fd: int, nbytes: int, count: _Counter) -> bytes:
    data = os.read(fd, min(nbytes, CHUNK_BYTES))
    count.add(len(data))
    return data
