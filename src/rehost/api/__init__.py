"""rehost.api."""
