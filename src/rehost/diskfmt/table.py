"""Partition table values: a table kind and its partitions (found by diskfmt.partitions)."""

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # typing.Literal is Python 3.8+; the agent runs on 3.6
    from typing import Literal  # novermin: type checking only

    TableKind = Literal["mbr", "gpt", "none"]
else:
    TableKind = str
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
MBR_ESP_TYPE = "ef"


class Partition(NamedTuple):
    """One partition: MBR type as 2-digit hex ("83"), GPT type as upper-case GUID."""

    number: int
    start_bytes: int
    size_bytes: int
    type_code: str
    name: str = ""
    uuid: str = ""
    is_container: bool = False  # an MBR extended partition holding logical ones
    is_logical: bool = False

    @property
    def end_bytes(self) -> int:
        """First byte after the partition."""
        return self.start_bytes + self.size_bytes

    @property
    def is_efi_system(self) -> bool:
        """True for an EFI System Partition."""
        return self.type_code in (ESP_GUID, MBR_ESP_TYPE)


class PartitionTable(NamedTuple):
    """A disk's partition table; `kind` "none" means no table was found."""

    kind: "TableKind"
    partitions: "tuple[Partition, ...]" = ()
    disk_id: str = ""
    sector_bytes: int = 512
    notes: "tuple[str, ...]" = ()

    @property
    def data_partitions(self) -> "tuple[Partition, ...]":
        """Partitions that hold data (extended containers left out)."""
        return tuple(p for p in self.partitions if not p.is_container)
