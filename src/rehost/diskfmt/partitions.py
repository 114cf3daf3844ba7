"""Find a disk's partition table: MBR, GPT (behind its protective MBR) or none."""

from rehost.diskfmt import gpt, mbr
from rehost.diskfmt.reader import DiskReader
from rehost.diskfmt.table import PartitionTable


def read_partition_table(disk: DiskReader) -> "PartitionTable":
    """Detect and parse the disk's partition table."""
    boot = disk.read_at(0, 512)
    if len(boot) < 512 or boot[510:512] != b"\x55\xaa":
        return PartitionTable(kind="none")
    if boot[3:11] == b"NTFS    " or boot[54:57] == b"FAT" or boot[82:87] == b"FAT32":
        return PartitionTable(kind="none")  # a volume boot record, not a partition table
    if mbr.is_protective(boot):
        return gpt.read_gpt(disk)
    table = mbr.read_mbr(disk, boot)
    if not table.partitions and not mbr.looks_like_mbr(boot):
        return PartitionTable(kind="none")
    return table
