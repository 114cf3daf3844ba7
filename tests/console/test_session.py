"""Signed session cookies: round trip, forgery, expiry, CSRF checks."""

from __future__ import annotations

from rehost.console.session import SESSION_TTL_S, SessionCodec, csrf_matches

NOW = 1_800_000_000.0


def test_session_round_trip_and_csrf() -> None:
    codec = SessionCodec(b"k" * 32)
    value = codec.issue_session(account_id="acc-1", account_name="admin", now=NOW)
    session = codec.read_session(value, now=NOW + 10)
    assert session is not None
    assert (session.account_id, session.account_name) == ("acc-1", "admin")
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, "")
    other = "y" if session.csrf_token.endswith("x") else "x"  # a token may end in x itself
    assert not csrf_matches(session, session.csrf_token[:-1] + other)


def test_forged_or_expired_sessions_are_refused() -> None:
    codec = SessionCodec(b"k" * 32)
    value = codec.issue_session(account_id="acc-1", account_name="admin", now=NOW)
    body, mac = value.split(".")
    assert SessionCodec(b"o" * 32).read_session(value, now=NOW) is None
    assert codec.read_session(body + "." + mac[::-1], now=NOW) is None
    assert codec.read_session(value, now=NOW + SESSION_TTL_S + 1) is None
    assert codec.read_session("garbage", now=NOW) is None
    assert codec.read_session(None, now=NOW) is None


def test_signatures_are_bound_to_their_purpose() -> None:
    codec = SessionCodec(b"k" * 32)
    flash = codec.sign("flash", {"a": "acc-1", "n": "x", "c": "y", "e": NOW + 100})
    assert codec.read_session(flash, now=NOW) is None


def test_login_token_pairs_cookie_and_form() -> None:
    codec = SessionCodec(b"k" * 32)
    cookie, token = codec.issue_login_token()
    assert codec.check_login_token(cookie, token)
    assert not codec.check_login_token(cookie, token + "x")
    assert not codec.check_login_token(None, token)
