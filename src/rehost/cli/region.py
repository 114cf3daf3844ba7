"""`rehost region list|create` (SMC 目标地域)."""

from __future__ import annotations

import click

from rehost.cli import output as out
from rehost.cli.connect import call, profile_option
from rehost.domain.models import ADAPT_ENGINES

COLUMNS = [("ID", "region_id"), ("NAME", "name"), ("NETWORK QUOTA", "network_quota"),
           ("RESERVED", "reserved_slots"), ("IN USE", "slots_in_use"),
           ("IMAGE STORE", "image_store_path")]


@click.group("region")
def region() -> None:
    """Target regions: image store, transit network quota, disk limits."""


@region.command("list")
@out.output_option
@profile_option
def list_regions(output: str, profile: str) -> None:
    """List regions."""
    out.show(call(profile, output, lambda c: c.list_regions()), output, columns=COLUMNS,
             items_key="regions")


@region.command("create")
@click.argument("region_id")
@click.option("--name", default=None, help="Display name.")
@click.option("--image-store", "image_store_path", default=None,
              help="Directory of the region's image store.")
@click.option("--network-quota", type=click.IntRange(min=0), default=None,
              help="Transit network slots (default 10).")
@click.option("--reserved-slots", type=click.IntRange(min=0), default=None,
              help="Slots in use outside rehost.")
@click.option("--system-disk-min", type=click.IntRange(min=1), default=None, help="GiB.")
@click.option("--system-disk-max", type=click.IntRange(min=1), default=None, help="GiB.")
@click.option("--data-disk-min", type=click.IntRange(min=1), default=None, help="GiB.")
@click.option("--data-disk-max", type=click.IntRange(min=1), default=None, help="GiB.")
@click.option("--verify/--no-verify", "verify_after_migration", default=None,
              help="Boot-verify every image built in this region (default: off).")
@click.option("--image-format", type=click.Choice(["raw", "qcow2"]), default=None,
              help="Disk files of the region's images: raw (sparse) or qcow2 [default: raw].")
@click.option("--accept-failed-checks", is_flag=True, default=None,
              help="Publish images whose hard checks fail (fsck errors, no kernel, no "
                   "bootloader) with a warning on the job, instead of InError (default: off).")
@click.option("--adapt-guests/--no-adapt-guests", "adapt_guests", default=None,
              help="OS-adapt Linux guests before publishing (virtio initramfs, fstab by UUID, "
                   "serial console); needs libguestfs-tools on the transit (default: off, "
                   "byte-exact copies).")
@click.option("--adapt-engine", type=click.Choice(ADAPT_ENGINES), default=None,
              help="Who adapts the guest: rehost (its own steps, one libguestfs appliance) or "
                   "virt-v2v (virt-v2v-in-place, Debian package virt-v2v, then rehost's fstab, "
                   "console and network steps) [default: rehost]. Needs --adapt-guests.")
@click.option("--keep-static-network", is_flag=True, default=None,
              help="Adaptation keeps the source's network configuration (MAC-bound rules and "
                   "static addresses) instead of removing MAC bindings (default: off). Needs "
                   "--adapt-guests.")
@out.output_option
@profile_option
def create(region_id: str, name: str | None, image_store_path: str | None,
           network_quota: int | None, reserved_slots: int | None, system_disk_min: int | None,
           system_disk_max: int | None, data_disk_min: int | None, data_disk_max: int | None,
           verify_after_migration: bool | None, image_format: str | None,
           accept_failed_checks: bool | None, adapt_guests: bool | None,
           adapt_engine: str | None, keep_static_network: bool | None, output: str,
           profile: str) -> None:
    """Create a region."""
    body = {"region_id": region_id, "name": name, "image_store_path": image_store_path,
            "network_quota": network_quota, "reserved_slots": reserved_slots,
            "system_disk_min": system_disk_min, "system_disk_max": system_disk_max,
            "data_disk_min": data_disk_min, "data_disk_max": data_disk_max,
            "verify_after_migration": verify_after_migration, "image_format": image_format,
            "accept_failed_checks": accept_failed_checks, "adapt_guests": adapt_guests,
            "adapt_engine": adapt_engine, "keep_static_network": keep_static_network}
    out.show(call(profile, output, lambda c: c.create_region(body)), output)
