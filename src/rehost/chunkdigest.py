"""Chunk digests the agent and the transit agree on in HELLO: xxh3-128 or stdlib blake2b-128.

Every digest of the data plane (a cell's digest in DATA, the transit's check and read-back,
the whole-disk digest, the base of an incremental pass) is 16 bytes of one algorithm, the one
HELLO_OK names. ``xxh3-128`` needs the optional ``xxhash`` accelerator; ``blake2b-128``
(``hashlib.blake2b`` with ``digest_size=16``) is in every Python 3.6+. Runs on Python 3.6.
"""

import hashlib
from collections.abc import Sequence
from typing import Any, Callable, Dict, Tuple

try:  # optional accelerator: the portable agent runs without it
    import xxhash
except ImportError:
    xxhash = None  # type: ignore[assignment]

XXH3_128 = "xxh3-128"
BLAKE2B_128 = "blake2b-128"
LEGACY = XXH3_128  # what a peer that names no digest in HELLO uses
DIGEST_BYTES = 16
MAX_ZERO_BYTES = 16 * 1024 * 1024  # wire.MAX_RAW_BYTES
ZEROS = bytes(MAX_ZERO_BYTES)  # shared with wire.zero_bytes


class DigestError(Exception):
    """No digest both ends have, or a name this build does not know."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _blake2b(data: Any) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


def _blake2b_hasher() -> Any:
    return hashlib.blake2b(digest_size=DIGEST_BYTES)


class ChunkDigest:
    """One digest algorithm: one-shot digests, a streaming hasher and the all-zeros check."""

    def __init__(self, name: str, one_shot: "Callable[[Any], bytes]",
                 hasher: "Callable[[], Any]") -> None:
        self.name = name
        self.digest = one_shot
        self.hasher = hasher
        self._zeros: Dict[int, bytes] = {}

    def zero(self, length: int) -> bytes:
        """The digest of length zero bytes (cached)."""
        found = self._zeros.get(length)
        if found is None:
            found = self.digest(memoryview(ZEROS)[:length])
            self._zeros[length] = found
        return found

    def is_zero(self, raw: Any, digest: bytes) -> bool:
        """Whether raw (whose digest is given) is all zeros, confirmed byte for byte."""
        n = len(raw)
        return digest == self.zero(n) and bytes(raw) == ZEROS[:n]

    def digest_and_zero(self, data: Any) -> "Tuple[bytes, bool]":
        """The digest of data and whether data is all zeros."""
        digest = self.digest(data)
        return digest, self.is_zero(data, digest)


def _build() -> "Dict[str, ChunkDigest]":
    found = {BLAKE2B_128: ChunkDigest(BLAKE2B_128, _blake2b, _blake2b_hasher)}
    if xxhash is not None:
        found[XXH3_128] = ChunkDigest(XXH3_128, xxhash.xxh3_128_digest, xxhash.xxh3_128)
    return found


_AVAILABLE = _build()
PREFERENCE = (XXH3_128, BLAKE2B_128)  # fastest first


def available() -> "Tuple[str, ...]":
    """The digests this process can compute, preferred first."""
    return tuple(name for name in PREFERENCE if name in _AVAILABLE)


def by_name(name: str) -> ChunkDigest:
    """The digest called name; DigestError when this process cannot compute it."""
    found = _AVAILABLE.get(name)
    if found is None:
        hint = (" (install the xxhash module: pip install xxhash / 请安装 xxhash 模块)"
                if name == XXH3_128 else "")
        raise DigestError("Wire.NoCommonDigest",
                          f"digest {name!r} is not available here{hint}"
                          f" / 此处不支持摘要算法 {name!r}")
    return found


def negotiate(offered: "Sequence[str]") -> ChunkDigest:
    """The first digest of ours (preference order) the peer also offered."""
    for name in available():
        if name in offered:
            return _AVAILABLE[name]
    theirs, ours = list(offered), list(available())
    raise DigestError("Wire.NoCommonDigest",
                      f"no common chunk digest: the agent offers {theirs}, this end has {ours}; "
                      "install xxhash on the agent or upgrade the transit / 没有共同的数据块摘要"
                      f"算法：代理提供 {theirs}，本端支持 {ours}；"
                      "请在代理上安装 xxhash 或升级中转实例")
