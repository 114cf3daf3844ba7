"""Signed session cookies and CSRF tokens for the console (HMAC-SHA256).

The cookie names a server-side session (`rehost.services.console_login`) so that logout
ends it everywhere; the signature only keeps forged cookies from reaching the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Final

SESSION_COOKIE: Final = "rehost_session"
LOGIN_CSRF_COOKIE: Final = "rehost_login_csrf"
SESSION_TTL_S: Final = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    """Who is logged in, their CSRF token and when the session ends (epoch seconds)."""

    account_id: str
    account_name: str
    csrf_token: str
    expires_at: float
    session_id: str = ""
    user_id: str = ""  # filled from the server-side session, with the role of now
    role: str = ""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SessionCodec:
    """Signs and verifies cookie values with a key derived from the server secret."""

    secret: bytes

    def _mac(self, purpose: str, body: str) -> str:
        key = hashlib.sha256(b"rehost-console/" + purpose.encode() + b"/" + self.secret).digest()
        return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, object]) -> str:
        """Encode ``payload`` as ``body.mac``."""
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, value: str | None) -> dict[str, object] | None:
        """Return the payload when the signature is valid, else None."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def issue_session(self, *, account_id: str, account_name: str, now: float,
                      session_id: str = "") -> str:
        """Create a fresh session cookie value with a new CSRF token."""
        payload: dict[str, object] = {
            "a": account_id, "n": account_name, "c": secrets.token_urlsafe(24),
            "e": now + SESSION_TTL_S, "s": session_id,
        }
        return self.sign("session", payload)

    def read_session(self, value: str | None, *, now: float) -> Session | None:
        """Decode a session cookie; None when missing, forged or expired."""
        data = self.verify("session", value)
        if data is None:
            return None
        account_id, name, csrf, expires = data.get("a"), data.get("n"), data.get("c"), data.get("e")
        sid = data.get("s", "")
        if not all(isinstance(v, str) for v in (account_id, name, csrf, sid)):
            return None
        if not isinstance(expires, (int, float)) or expires <= now:
            return None
        return Session(str(account_id), str(name), str(csrf), float(expires), str(sid))

    def issue_login_token(self) -> tuple[str, str]:
        """Return (cookie value, form token) for the anonymous login form."""
        token = secrets.token_urlsafe(24)
        return self.sign("login", {"c": token}), token

    def check_login_token(self, cookie_value: str | None, form_token: str) -> bool:
        """Tell whether the login form's token matches its signed cookie."""
        data = self.verify("login", cookie_value)
        expected = data.get("c") if data else None
        return isinstance(expected, str) and hmac.compare_digest(expected, form_token)


def csrf_matches(session: Session, form_token: str | None) -> bool:
    """Constant-time check of a submitted CSRF token against the session's."""
    return bool(form_token) and hmac.compare_digest(session.csrf_token, form_token or "")
