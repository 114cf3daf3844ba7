"""The warning a Finished job must not hide: its image was published despite failed checks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypedDict

import click

from rehost.client import RehostClient

ACCEPTED = "Check.Accepted"


class JobEventDoc(TypedDict, total=False):
    """One line of GET /jobs/{id}/events (`EventOut`)."""

    id: int
    time: str | None
    level: str
    code: str
    message: str
    message_zh: str
    hint: str
    hint_zh: str


def event_line(event: JobEventDoc) -> str:
    """One human line of the event log, in the user's language (LANG=zh… → Chinese)."""
    chinese = os.environ.get("LANG", "").lower().startswith("zh")
    message = (event.get("message_zh") if chinese else "") or event.get("message", "")
    code = f" [{event['code']}]" if event.get("code") else ""
    hint_text = (event.get("hint_zh") if chinese else "") or event.get("hint", "")
    hint = f"  → {hint_text}" if hint_text else ""
    return f"{event.get('time', '')} {str(event.get('level', '')).upper():7}{code} {message}{hint}"


def accepted_warning(client: RehostClient, doc: Mapping[str, object]) -> str:
    """'!! WARNING [Check.Accepted] …' for a Finished job whose last build accepted failed
    checks ("" otherwise)."""
    if doc.get("status") != "Finished":
        return ""
    events = list(client.job_events(str(doc["job_id"])).get("events", []))
    builds = [i for i, e in enumerate(events) if e.get("code") == "Image.Building"]
    last = [e for e in events[builds[-1] if builds else 0:] if e.get("code") == ACCEPTED]
    return f"!! {event_line(last[-1]).split(' ', 1)[1].strip()}" if last else ""


def echo_accepted_warning(client: RehostClient, doc: Mapping[str, object]) -> None:
    """Print the accepted-checks warning on its own line (stdout), when there is one."""
    line = accepted_warning(client, doc)
    if line:
        click.secho(line, fg="yellow", bold=True)
