"""REHOST_VERIFY_ACCELERATOR pins the accelerator of "auto" boots; bad values are refused."""

from __future__ import annotations

import pytest

from rehost.imaging import verify
from rehost.imaging.errors import ImagingError


def test_pinned_tcg_wins_over_a_usable_kvm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "kvm_available", lambda: True)
    # an earlier boot in this process may have found KVM broken and remembered it
    monkeypatch.setattr(verify, "_kvm_failed", set())
    monkeypatch.setenv(verify.ACCELERATOR_ENV, "tcg")
    assert verify._choose_accelerator("auto") == "tcg"
    assert verify._choose_accelerator("kvm") == "kvm"  # an explicit choice still wins
    monkeypatch.delenv(verify.ACCELERATOR_ENV)
    assert verify._choose_accelerator("auto") == "kvm"


def test_a_bad_pin_is_refused_in_both_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(verify.ACCELERATOR_ENV, "hvf")
    with pytest.raises(ImagingError) as caught:
        verify._choose_accelerator("auto")
    assert "kvm or tcg" in caught.value.message_en and "无效" in caught.value.message_zh
