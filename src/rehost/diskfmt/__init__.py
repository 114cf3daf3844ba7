"""Pure parsers of disk layouts: MBR, GPT, ext2/3/4, LVM2, XFS, btrfs, swap, FAT; the send plan."""

from rehost.diskfmt.errors import DiskFormatError, DiskUnreadableError
from rehost.diskfmt.extent import Extent
from rehost.diskfmt.layout import DiskLayout, Volume
from rehost.diskfmt.plan import SendPlan, describe_plan, plan_extents, read_layout
from rehost.diskfmt.shrink import ShrinkLimit, min_size_bytes, shrink_limit
from rehost.diskfmt.table import Partition, PartitionTable

__all__ = [
    "DiskFormatError",
    "DiskLayout",
    "DiskUnreadableError",
    "Extent",
    "Partition",
    "PartitionTable",
    "SendPlan",
    "ShrinkLimit",
    "Volume",
    "describe_plan",
    "min_size_bytes",
    "plan_extents",
    "read_layout",
    "shrink_limit",
]
