"""`rehost server`: open the database, first-start credentials, scheduler, uvicorn on --listen.

Default listen address: 127.0.0.1:7001 (`rehost.config.DEFAULT_LISTEN`).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import uvicorn
from fastapi import APIRouter

from rehost import filemode
from rehost.agent.tls import TLS12_CIPHERS
from rehost.api.app import create_app
from rehost.config import Settings
from rehost.logformat import configure_logging
from rehost.services import bootstrap
from rehost.services.bootstrap import AdminCredentials
from rehost.services.context import ServiceContext
from rehost.services.ports import ImageStoreFactory, NoTransitPool, TransitPool
from rehost.services.scheduler import Scheduler

log = logging.getLogger(__name__)


def print_credentials(creds: AdminCredentials, out: TextIO = sys.stdout) -> None:
    """Print the first-start admin credentials once."""
    out.write(
        "rehost: created the admin account and an AccessKey (shown only now; also saved in "
        f"{creds.path}, mode 0600)\n"
        f"  account:           {creds.account_name}\n  password:          {creds.password}\n"
        f"  AccessKeyId:       {creds.access_key_id}\n"
        f"  AccessKeySecret:   {creds.access_key_secret}\n"
    )
    out.flush()


def run_server(
    settings: Settings,
    *,
    transit_pool: TransitPool | None = None,
    image_store_for: ImageStoreFactory | None = None,
    routers: Sequence[APIRouter] = (),
    embedded_transit: bool = True,
) -> None:
    """Run the control plane (and by default the embedded transit) until interrupted."""
    if embedded_transit and transit_pool is None:
        run_with_transit(settings, routers=routers)
        return
    ctx = bootstrap.open_context(settings, transit_pool=transit_pool,
                                 image_store_for=image_store_for)
    serve(ctx, routers=routers)


def print_listening(settings: Settings, *, tls: bool, data_port: bool,
                    out: TextIO = sys.stdout) -> None:
    """Say where the API (and the transit data port) listen, once uvicorn is about to bind."""
    scheme = "https" if tls else "http"
    host = f"[{settings.listen_host}]" if ":" in settings.listen_host else settings.listen_host
    out.write(f"rehost: API and console on {scheme}://{host}:{settings.listen_port} "
              f"(health: /healthz, /readyz; metrics: /metrics)\n")
    if data_port:
        data_host, port = settings.data_listen_addr
        out.write(f"rehost: transit data port on {data_host}:{port} "
                  f"(agents connect to {settings.data_endpoint})\n")
    out.flush()


def check_port_free(host: str, port: int) -> None:
    """Raise OSError now if the API address cannot be bound (uvicorn would only log it)."""
    with socket.create_server((host, port)):
        pass


def uvicorn_config(app: Any, *, host: str, port: int, log_level: str,
                   tls: tuple[Path, Path] | None) -> uvicorn.Config:
    """uvicorn's settings; HTTPS gets the data port's policy (ECDHE+AES-GCM floor, 1.3 first)."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          log_config=None, ssl_certfile=str(tls[0]) if tls else None,
                          ssl_keyfile=str(tls[1]) if tls else None, ssl_ciphers=TLS12_CIPHERS)


def serve(ctx: ServiceContext, *, routers: Sequence[APIRouter] = (),
          tls: tuple[Path, Path] | None = None) -> None:
    """First-start credentials, scheduler, then uvicorn (HTTPS with `tls`) until interrupted."""
    settings = ctx.settings
    check_port_free(settings.listen_host, settings.listen_port)
    creds = bootstrap.ensure_admin(ctx)
    if creds is not None and settings.print_credentials:
        print_credentials(creds)
    app = create_app(settings, context=ctx, routers=routers)
    scheduler = Scheduler(ctx)
    scheduler.start()
    print_listening(settings, tls=tls is not None,
                    data_port=not isinstance(ctx.transit_pool, NoTransitPool))
    try:
        # rehost.api.access writes the access log; uvicorn logs through the root logger
        server = uvicorn.Server(uvicorn_config(app, host=settings.listen_host,
                                               port=settings.listen_port,
                                               log_level=settings.log_level, tls=tls))
        server.run()
        if not server.started:
            sys.exit(3)  # what uvicorn.run does when start-up fails
    finally:
        scheduler.stop()
        ctx.db.dispose()


def run_with_transit(settings: Settings, *, routers: Sequence[APIRouter] = ()) -> None:
    """The default single process: control plane + embedded transit pool + image builder."""
    from rehost.embedded import start_embedded_transit

    plane = start_embedded_transit(settings)
    log.info("transit data port listening on %s:%d (advertised as %s)",
             *plane.pool.address, settings.data_endpoint)
    if plane.api_tls:
        log.info("API over HTTPS; agents and clients trust %s",
                 settings.data_dir / "pki" / "ca.pem")
    try:
        serve(plane.ctx, routers=routers, tls=plane.api_tls)
    finally:
        plane.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m rehost.server [--data-dir DIR] [--listen HOST:PORT]` (the CLI wraps the same)."""
    import argparse

    from rehost.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m rehost.server")
    parser.add_argument("--data-dir")
    parser.add_argument("--listen")
    args = parser.parse_args(argv)
    settings = load_settings(data_dir=args.data_dir, listen=args.listen)
    configure_logging(log_format=settings.log_format, log_level=settings.log_level)
    filemode.apply(settings.data_dir, group=settings.file_group)
    run_server(settings)


if __name__ == "__main__":
    main()
