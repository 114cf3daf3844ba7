"""rehost.diskfmt."""
