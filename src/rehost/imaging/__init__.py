"""rehost.imaging."""
