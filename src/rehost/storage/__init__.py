"""Image stores: where finished images live (a local directory by default)."""

from rehost.storage.local import LocalImageStore, StoreError
from rehost.storage.manifest import ImageDisk, ImageRecord
from rehost.storage.ports import DraftDisk, ImageDraft, ImageStore

__all__ = ["DraftDisk", "ImageDisk", "ImageDraft", "ImageRecord", "ImageStore",
           "LocalImageStore", "StoreError"]
