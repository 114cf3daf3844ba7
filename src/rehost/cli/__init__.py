"""rehost.cli."""
