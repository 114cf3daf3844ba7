"""What every service function receives: database, settings, keys, clock and ports."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rehost.config import Settings
from rehost.db.engine import Database
from rehost.services.ports import (
    ImageStoreFactory,
    NoTransitPool,
    TransitPool,
    directory_image_store,
)

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def utcnow() -> datetime:
    """Current time, aware UTC."""
    return datetime.now(UTC)


def random_suffix(length: int = 20) -> str:
    """Random lowercase alphanumerics for ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Dependencies of the services, built once by `bootstrap.open_context`."""

    db: Database
    settings: Settings
    master_key: bytes
    clock: Callable[[], datetime] = utcnow
    transit_pool: TransitPool = field(default_factory=NoTransitPool)
    image_store_for: ImageStoreFactory = directory_image_store

    def now(self) -> datetime:
        """Current time from the context's clock."""
        return self.clock()

    def new_id(self, prefix: str) -> str:
        """A fresh resource id like `j-…`."""
        return f"{prefix}-{random_suffix()}"
