"""verify_image picks KVM when /dev/kvm opens read-write, TCG otherwise or when asked."""

from __future__ import annotations

import pytest

from rehost.imaging import verify


def test_kvm_when_dev_kvm_works_tcg_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "kvm_available", lambda: True)
    monkeypatch.setattr(verify, "_kvm_failed", set())
    assert verify._choose_accelerator("auto") == "kvm"
    assert verify._choose_accelerator("tcg") == "tcg"
    monkeypatch.setattr(verify, "kvm_available", lambda: False)
    assert verify._choose_accelerator("auto") == "tcg"


def test_kvm_that_failed_once_is_not_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "kvm_available", lambda: True)
    monkeypatch.setattr(verify, "_kvm_failed", {"kvm"})
    assert verify._choose_accelerator("auto") == "tcg"
