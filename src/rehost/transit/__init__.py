"""rehost.transit."""
