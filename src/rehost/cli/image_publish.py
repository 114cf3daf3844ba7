"""`rehost image publish|publications|unpublish|launch` and `rehost region publish-target`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypedDict

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.cli.image import _long_call, image
from rehost.cli.region import region
from rehost.domain.publish import TARGET_KINDS

PUBLISH_TIMEOUT_S = 6 * 3600.0  # uploading large disks to a remote pool or Glance
PROGRESS_EVERY_S = 5.0
PUB_COLUMNS = [("TARGET", "target"), ("STATUS", "status"), ("PROGRESS %", "progress_percent"),
               ("BYTES", "bytes_done"), ("ERROR", "error_code"), ("UPDATED", "update_time")]
LIBVIRT_KEYS = ("uri", "pool", "pool_path", "network", "console_log_dir", "domain_type",
                "disk_bus")
GLANCE_KEYS = ("endpoint", "cloud", "disk_format", "visibility")


class PublicationDoc(TypedDict):
    """The fields of a publication (`PublicationOut`) that the CLI prints."""

    image_id: str
    target: str
    status: str
    bytes_done: int
    bytes_total: int
    remote: dict[str, object]


def _size_options(func: Any) -> Any:
    func = click.option("--memory-mib", type=click.IntRange(1), default=None,
                        help="Memory (default: the source's inventory, else 1024).")(func)
    return click.option("--vcpus", type=click.IntRange(1, 256), default=None,
                        help="vCPUs (default: the source's inventory, else 1).")(func)


def _show_publication(doc: PublicationDoc) -> None:
    click.echo(f"{doc['status']}: image {doc['image_id']} -> {doc['target']} "
               f"({doc['bytes_done']} / {doc['bytes_total']} bytes)")
    for key, value in sorted(doc["remote"].items()):
        click.echo(f"  {key}: {value}")


@image.command("publish")
@click.argument("image_id")
@click.option("--target", type=click.Choice(TARGET_KINDS), required=True,
              help="The image region's publish target (see `rehost region publish-target`).")
@click.option("--start", is_flag=True, help="libvirt: also start the defined domain.")
@_size_options
@out.output_option
@profile_option
def publish(image_id: str, target: str, start: bool, vcpus: int | None,
            memory_mib: int | None, output: str, profile: str) -> None:
    """Copy an image into libvirt (pool volumes + domain) or Glance; a retry resumes."""
    body = {"target": target, "start": start, "vcpus": vcpus, "memory_mib": memory_mib}
    doc: PublicationDoc = _with_progress(profile, output, image_id, target, lambda: _long_call(
        profile, output, PUBLISH_TIMEOUT_S, lambda c: (
            c.transport.call("POST", f"/images/{image_id}/publish", json=body))))
    if output == "json":
        out.emit_json(doc)
    else:
        _show_publication(doc)


def _with_progress(profile: str, output: str, image_id: str, target: str,
                   action: Callable[[], Any]) -> Any:
    """Run the blocking publish; meanwhile print its recorded progress on stderr (tables)."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(PROGRESS_EVERY_S):
            docs = call(profile, output, lambda c: c.transport.call(
                "GET", f"/images/{image_id}/publications"))["publications"]
            for pub in docs:
                if pub["target"] == target and pub["status"] == "Publishing":
                    click.echo(f"publishing to {target}: {pub['progress_percent']:.1f}% "
                               f"({pub['bytes_done']} / {pub['bytes_total']} bytes)", err=True)

    watcher = threading.Thread(target=watch, daemon=True)
    if output != "json":
        watcher.start()
    try:
        return action()
    finally:
        stop.set()


@image.command("publications")
@click.argument("image_id")
@out.output_option
@profile_option
def publications(image_id: str, output: str, profile: str) -> None:
    """Where an image is published, with progress while it is being published."""
    doc = call(profile, output, lambda c: c.transport.call(
        "GET", f"/images/{image_id}/publications"))
    out.show(doc, output, columns=PUB_COLUMNS, items_key="publications")


@image.command("unpublish")
@click.argument("image_id")
@click.option("--target", type=click.Choice(TARGET_KINDS), required=True)
@out.output_option
@profile_option
def unpublish(image_id: str, target: str, output: str, profile: str) -> None:
    """Remove an image's copy from a target (libvirt domain + volumes, or Glance images)."""
    doc = call(profile, output, lambda c: c.transport.call(
        "DELETE", f"/images/{image_id}/publications/{target}"))
    out.done(doc, output, f"Removed image {image_id} from {target}")


@image.command("launch")
@click.argument("image_id")
@click.option("--revert", is_flag=True, help="Remove the test machine (domain and volumes).")
@click.option("--wait-ip", "wait_ip_s", type=click.FloatRange(0, 600), default=0.0,
              show_default=True, help="Seconds to wait for a DHCP lease (needs a network).")
@_size_options
@out.output_option
@profile_option
def launch(image_id: str, revert: bool, wait_ip_s: float, vcpus: int | None,
           memory_mib: int | None, output: str, profile: str) -> None:
    """Boot a test machine from an image on the region's libvirt (MGN-style test launch)."""
    if revert:
        if vcpus is not None or memory_mib is not None or wait_ip_s:
            raise click.UsageError("--revert takes no --vcpus, --memory-mib or --wait-ip "
                                   "(--revert 不接受 --vcpus、--memory-mib 或 --wait-ip)")
        doc = call(profile, output, lambda c: c.transport.call(
            "POST", f"/images/{image_id}/launch/revert"))
        out.done(doc, output, f"Removed the test machine of {image_id} "
                              f"({', '.join(doc['remote'].get('volumes', []))})")
        return
    body = {"vcpus": vcpus, "memory_mib": memory_mib, "wait_ip_s": wait_ip_s}
    doc = _long_call(profile, output, PUBLISH_TIMEOUT_S + wait_ip_s, lambda c: (
        c.transport.call("POST", f"/images/{image_id}/launch", json=body)))
    if output == "json":
        out.emit_json(doc)
        return
    click.echo(f"test machine {doc['domain']}: {doc['state']}")
    click.echo(f"  console log 控制台日志: {doc['console_log']}")
    click.echo(f"  console pty: {doc['console_pty'] or 'none'}")
    none = "none (no DHCP lease: the target has no network, or the guest has not asked yet)"
    click.echo(f"  IP: {', '.join(doc['addresses']) or none}")


@region.group("publish-target")
def publish_target() -> None:
    """Where a region's images are published: libvirt and OpenStack Glance."""


@publish_target.command("set")
@click.argument("region_id")
@click.option("--target", type=click.Choice(TARGET_KINDS), required=True)
@click.option("--uri", help="libvirt: connection URI, e.g. qemu:///system.")
@click.option("--pool", help="libvirt: storage pool for the disks.")
@click.option("--pool-path", help="libvirt: create the pool as a dir pool here if missing.")
@click.option("--network", help="libvirt: network of the NIC (none: no NIC).")
@click.option("--console-log-dir", help="libvirt: serial console logs (default "
              "/var/log/libvirt/qemu).")
@click.option("--domain-type", type=click.Choice(["kvm", "qemu"]),
              help="libvirt: kvm or qemu (TCG); default: kvm when the host offers it.")
@click.option("--disk-bus", type=click.Choice(["virtio", "sata"]),
              help="libvirt: disk bus (default virtio; sata for guests without virtio drivers).")
@click.option("--endpoint", help="glance: image API URL of a Glance without authentication.")
@click.option("--cloud", help="glance: a clouds.yaml entry on the server (Keystone).")
@click.option("--disk-format", type=click.Choice(["raw", "qcow2"]),
              help="glance: uploaded format (default qcow2).")
@click.option("--visibility", type=click.Choice(["private", "shared", "community", "public"]),
              help="glance: image visibility (default private).")
@out.output_option
@profile_option
def set_target(region_id: str, target: str, output: str, profile: str,
               **settings: str | None) -> None:
    """Set (replace) a region's libvirt or glance publish target."""
    given = {k: v for k, v in settings.items() if v is not None}
    allowed = LIBVIRT_KEYS if target == "libvirt" else GLANCE_KEYS
    wrong = sorted(k for k in given if k not in allowed)
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        raise click.UsageError(f"{flags} do not apply to --target {target} "
                               f"({flags} 不适用于 --target {target})")
    doc = call(profile, output, lambda c: c.transport.call(
        "PUT", f"/regions/{region_id}/publish-targets/{target}", json=given))
    out.show(doc, output)


@publish_target.command("list")
@click.argument("region_id")
@out.output_option
@profile_option
def list_targets(region_id: str, output: str, profile: str) -> None:
    """A region's publish targets and their settings."""
    doc = call(profile, output, lambda c: c.transport.call(
        "GET", f"/regions/{region_id}/publish-targets"))
    if output == "json":
        out.emit_json(doc)
        return
    for entry in doc["targets"]:
        click.echo(f"{entry['target']}: " + ", ".join(
            f"{k}={v}" for k, v in entry["settings"].items() if v))


@publish_target.command("delete")
@click.argument("region_id")
@click.option("--target", type=click.Choice(TARGET_KINDS), required=True)
@out.output_option
@profile_option
def delete_target(region_id: str, target: str, output: str, profile: str) -> None:
    """Remove a region's publish target (published copies stay)."""
    doc = call(profile, output, lambda c: c.transport.call(
        "DELETE", f"/regions/{region_id}/publish-targets/{target}"))
    out.done(doc, output, f"Removed the {target} target of region {region_id}")
