"""Readiness checks of a server process: database, transit data port, image stores writable."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text

from rehost.db.tables import RegionRow
from rehost.services.context import ServiceContext
from rehost.services.ports import NoTransitPool
from rehost.services.transit_control import SharedListenerPool

CONNECT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """One readiness check: its name, whether it passed, and why not."""

    name: str
    ok: bool
    detail: str = ""


def check_database(ctx: ServiceContext) -> ReadinessCheck:
    """`SELECT 1` through the read engine."""
    try:
        with ctx.db.read() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"; the reason is reported
        return ReadinessCheck("database", False, f"database query failed: {exc}")
    return ReadinessCheck("database", True)


def check_data_port(ctx: ServiceContext) -> ReadinessCheck:
    """A TCP connect to the embedded transit's data port (skipped when none runs here)."""
    if isinstance(ctx.transit_pool, NoTransitPool):
        return ReadinessCheck("data_port", True, "no transit data port in this process")
    host, port = ctx.settings.data_listen_addr
    target = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    try:
        with socket.create_connection((target, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        return ReadinessCheck("data_port", False,
                              f"data port {host}:{port} is not listening: {exc}")
    problem = ctx.transit_pool.problem() if isinstance(ctx.transit_pool,
                                                       SharedListenerPool) else ""
    if problem:
        return ReadinessCheck("data_port", False, f"data port {host}:{port}: {problem}")
    return ReadinessCheck("data_port", True)


def _probe_writable(root: Path) -> str:
    """"" when a file can be created and removed under root, else the error."""
    probe = root / f".rehost-ready-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return str(exc)
    return ""


def check_image_stores(ctx: ServiceContext) -> ReadinessCheck:
    """Every region's image store directory accepts a new file."""
    with ctx.db.read() as session:
        roots = sorted(set(session.scalars(select(RegionRow.image_store_path)).all()))
    failures = [f"{root}: {err}" for root in roots if (err := _probe_writable(Path(root)))]
    if failures:
        return ReadinessCheck("image_store", False,
                              "image store not writable: " + "; ".join(failures))
    return ReadinessCheck("image_store", True)


def run_checks(ctx: ServiceContext) -> list[ReadinessCheck]:
    """All readiness checks; the image store check runs only when the database answers."""
    checks = [check_database(ctx), check_data_port(ctx)]
    if checks[0].ok:
        checks.append(check_image_stores(ctx))
    return checks
