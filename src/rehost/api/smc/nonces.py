"""Replay protection: remember (AccessKey, nonce) pairs for the signature's validity window."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol


class NonceStore(Protocol):
    """Remembers nonces; `remember` returns False when the nonce was already used."""

    def remember(self, access_key_id: str, nonce: str, *, now: datetime) -> bool:
        """Record the nonce; False if it was seen within the window."""
        ...


class MemoryNonceStore:
    """Process-local nonce store (one API process; replicas need a shared store)."""

    def __init__(self, *, window: timedelta = timedelta(minutes=30), max_entries: int = 200_000):
        self._window = window
        self._max_entries = max_entries
        self._seen: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()

    def remember(self, access_key_id: str, nonce: str, *, now: datetime) -> bool:
        """Record the nonce; False if it was seen within the window."""
        key = (access_key_id, nonce)
        with self._lock:
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            if len(self._seen) >= self._max_entries:
                self._prune(now)
            self._seen[key] = now + self._window
            return True

    def _prune(self, now: datetime) -> None:
        # dicts keep insertion order, so the oldest entries come first
        for key in [k for k, exp in self._seen.items() if exp <= now]:
            del self._seen[key]
        while len(self._seen) >= self._max_entries:
            del self._seen[next(iter(self._seen))]
