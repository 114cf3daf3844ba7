"""rehost.services."""
