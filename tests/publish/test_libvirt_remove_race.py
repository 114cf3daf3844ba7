"""Removing a test machine whose guest powers off between libvirt's isActive and destroy."""

from __future__ import annotations

import pytest

libvirt = pytest.importorskip("libvirt")  # the publish extra: CI installs python3-libvirt

from rehost.storage.libvirt_target import LibvirtPublisher  # noqa: E402


class PoweringOffDomain:
    """A domain that was running when asked, and shut itself off before destroy()."""

    def __init__(self, *, stays_active: bool) -> None:
        self.active, self.stays_active, self.undefined = True, stays_active, False

    def name(self) -> str:
        return "m-test"

    def isActive(self) -> bool:
        return self.active

    def destroy(self) -> None:
        self.active = self.stays_active
        raise libvirt.libvirtError("Requested operation is not valid: domain is not running")

    def undefineFlags(self, flags: int) -> None:
        self.undefined = True


class Conn:
    def __init__(self, dom: PoweringOffDomain) -> None:
        self.dom = dom

    def listAllDomains(self, flags: int) -> list[PoweringOffDomain]:
        return [self.dom]

    def lookupByName(self, name: str) -> PoweringOffDomain:
        return self.dom


def test_a_guest_that_powered_off_is_still_undefined() -> None:
    dom = PoweringOffDomain(stays_active=False)
    LibvirtPublisher._remove_domain(Conn(dom), "m-test")
    assert dom.undefined


def test_a_destroy_that_really_failed_is_raised() -> None:
    dom = PoweringOffDomain(stays_active=True)
    with pytest.raises(libvirt.libvirtError):
        LibvirtPublisher._remove_domain(Conn(dom), "m-test")
    assert not dom.undefined
