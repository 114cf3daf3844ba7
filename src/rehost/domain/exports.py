"""Image export formats (`rehost image export`): here, so the CLI names them without importing
the service that writes them (and its database layer: ~0.3 s of every CLI start)."""

EXPORT_FORMATS = ("qcow2", "vmdk", "vhdx")
