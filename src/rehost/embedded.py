"""Wires the embedded data plane into the server: CA, transit listener, image builder."""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rehost.config import Settings
from rehost.domain.models import Region
from rehost.imaging.adapt import AdaptOptions
from rehost.imaging.pipeline import prepare_disks, summary, verify_published
from rehost.pki import (
    CertificateAuthority,
    issue_transit_cert,
    load_or_create_ca,
)
from rehost.privatefile import write_private
from rehost.services import bootstrap
from rehost.services.builds import ImageBuilder
from rehost.services.context import ServiceContext, utcnow
from rehost.services.transit_control import ServiceTransitControl, SharedListenerPool
from rehost.storage.local import LocalImageStore
from rehost.storage.manifest import ImageRecord
from rehost.transit.buildpause import pause_from_env
from rehost.transit.pool import ReceiverPool
from rehost.transit.receivers import ReceiverProcesses, receiving_pool

PKI_DIR = "pki"


@dataclass
class EmbeddedTransit:
    """The running data plane of a single-process server."""

    ctx: ServiceContext
    pool: ReceiverPool | ReceiverProcesses
    builder: ImageBuilder
    api_tls: tuple[Path, Path] | None = None  # (certificate, key) files when --tls

    def stop(self) -> None:
        """Stop accepting data connections."""
        self.pool.stop()


def local_store(region: Region) -> LocalImageStore:
    """The image store of a region: a local directory."""
    return LocalImageStore(Path(region.image_store_path))


def verify_record(record: ImageRecord, region: Region) -> tuple[str, bool]:
    """Boot-verify a published image in QEMU; (summary text, passed)."""
    disks = [record.path / d.file for d in sorted(record.disks, key=lambda d: d.index)]
    result = verify_published(disks, image_dir=record.path, boot_mode=record.boot_mode)
    return summary(result), result.passed


def _cert_names(settings: Settings) -> list[str]:
    advertised = settings.data_endpoint.rpartition(":")[0].strip("[]")
    names = {advertised, "localhost", "127.0.0.1", socket.gethostname()}
    return sorted(n for n in names if n)


def start_embedded_transit(settings: Settings) -> EmbeddedTransit:
    """CA on first start, transit certificate, services, TLS listener; resume builds."""
    now = utcnow()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ca = load_or_create_ca(settings.data_dir / PKI_DIR, now=now)
    ca_pem = ca.cert_pem.decode("ascii")
    settings = dataclasses.replace(settings, server_ca_pem=lambda: ca_pem)
    cert = issue_transit_cert(ca, _cert_names(settings), now=now)
    shared = SharedListenerPool(settings.data_endpoint)
    ctx = bootstrap.open_context(settings, transit_pool=shared, image_store_for=local_store)
    pause = pause_from_env(os.environ)  # test-only, unset in use
    builder = ImageBuilder(
        ctx, store_for=local_store,
        prepare=lambda disks, boot_mode, adapt: prepare_disks(
            disks, boot_mode=boot_mode, adapt=adapt is not None,
            options=adapt or AdaptOptions(), step=pause),
        verify=verify_record, pause=pause,
    )
    control = ServiceTransitControl(ctx, on_synced=builder.submit)
    host, port = settings.data_listen_addr
    pool = receiving_pool(control=control, cert=cert, host=host, port=port,
                          limits=settings.data_port_limits,
                          processes=settings.receiver_processes,
                          log_format=settings.log_format, log_level=settings.log_level)
    shared.attach(pool)
    pool.start()
    builder.resume()
    api_tls = _api_certificate(settings, ca, now=now) if settings.api_tls else None
    return EmbeddedTransit(ctx=ctx, pool=pool, builder=builder, api_tls=api_tls)


def _api_certificate(settings: Settings, ca: CertificateAuthority, *,
                     now: datetime) -> tuple[Path, Path]:
    """A fresh HTTPS certificate for the API from the server CA; (cert, key) files (0600)."""
    names = sorted({*_cert_names(settings), settings.listen_host} - {"0.0.0.0", "::", ""})
    cert = issue_transit_cert(ca, names, now=now)
    directory = settings.data_dir / PKI_DIR
    paths = (directory / "api-cert.pem", directory / "api-key.pem")
    for path, pem in zip(paths, (cert.cert_pem, cert.key_pem), strict=True):
        write_private(path, pem)
    return paths
