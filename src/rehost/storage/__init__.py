"""rehost.storage."""
