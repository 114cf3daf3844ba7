"""Test-suite alias of `rehost.sample` (the bootable sample disk builder moved into the package)."""

from rehost.sample import *  # noqa: F403
from rehost.sample import __all__ as __all__
