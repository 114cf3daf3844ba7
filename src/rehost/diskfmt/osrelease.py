"""Parse /etc/os-release (freedesktop.org format)."""

import shlex


def parse_os_release(text: str) -> "dict[str, str]":
    """KEY=value lines, shell-quoted values unquoted; malformed lines ignored."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        out[key.strip()] = parts[0] if parts else ""
    return out


def os_name_version(text: str) -> "tuple[str, str]":
    """(NAME, VERSION_ID), with "unknown" for what is missing."""
    fields = parse_os_release(text)
    return fields.get("NAME") or "unknown", fields.get("VERSION_ID") or "unknown"
