"""rehost.db."""
