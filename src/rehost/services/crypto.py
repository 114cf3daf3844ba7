"""Key derivation and hashing for AccessKeys, tokens and passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of a UTF-8 string (what the database stores for secrets)."""
    return hashlib.sha256(text.encode()).hexdigest()


def derive(master_key: bytes, purpose: str, resource_id: str, salt: str) -> str:
    """base64url(HMAC-SHA256(master_key, purpose + ":" + id + salt)) without padding."""
    mac = hmac.new(master_key, f"{purpose}:{resource_id}{salt}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def new_salt() -> str:
    """A random salt."""
    return secrets.token_hex(16)


def new_token() -> str:
    """A random bearer token (agent tokens, activation codes)."""
    return secrets.token_urlsafe(32)


def equal(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


def hash_password(password: str) -> str:
    """scrypt password hash with its parameters and salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` result."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)
