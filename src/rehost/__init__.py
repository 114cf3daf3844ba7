"""rehost: a self-hosted server migration center."""

__version__ = "0.1.0"
