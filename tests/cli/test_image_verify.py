"""`rehost image verify` against a live server: refusals (the boots themselves: tests/e2e)."""

from __future__ import annotations

from cli.conftest import rehost
from smc.live import LiveServer


def test_unknown_image_is_not_found(live: LiveServer) -> None:
    done = rehost("image", "verify", "m-doesnotexist0000000", env=live.env())
    assert done.code == 1
    assert "InvalidImageId.NotFound" in done.stderr


def test_bad_success_pattern_is_refused_before_booting(live: LiveServer) -> None:
    done = rehost("image", "verify", "m-doesnotexist0000000", "--success-pattern", "([",
                  "--output", "json", env=live.env())
    assert done.code == 1
    assert done.json()["code"] == "InvalidParameter.SuccessPattern"


def test_timeout_must_be_positive(live: LiveServer) -> None:
    done = rehost("image", "verify", "m-x", "--timeout", "0", env=live.env())
    assert done.code == 2 and "--timeout" in done.stderr
