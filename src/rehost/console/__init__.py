"""rehost.console."""
