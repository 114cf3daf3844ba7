"""rehost.domain."""
