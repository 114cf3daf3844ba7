"""What `rehost agent import` leaves in --state-dir for `rehost agent run` (files are 0600).

Standard library only, Python 3.6 compatible: the portable agent loads it too.
"""

import json
from pathlib import Path
from typing import NamedTuple

from rehost.privatefile import write_private

DEFAULT_STATE_DIR = Path("/var/lib/rehost-agent")
STATE_FILE = "state.json"
CA_FILE = "server-ca.pem"


class AgentStateError(RuntimeError):
    """No usable agent state; the message says to run `rehost agent import`."""


class AgentState(NamedTuple):
    """The imported source: who it is, how to reach the server, which disks to read."""

    endpoint: str
    source_id: str
    agent_token: str
    heartbeat_interval_s: float = 30.0
    system_disk: str = ""  # image file path when imported from image files, "" = real server
    data_disks: "tuple[str, ...]" = ()
    ca_file: str = ""  # PEM trusted for an https API endpoint (--ca-file; "" = system trust)
    server_ca_file: str = ""  # server CA from the import answer: pins the transits' TLS


def save(state_dir: Path, state: AgentState, *, ca_pem: str = "") -> AgentState:
    """Write state.json (and the server CA) into state_dir with mode 0600."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if ca_pem:
        write_private(state_dir / CA_FILE, ca_pem)
        state = state._replace(server_ca_file=str(state_dir / CA_FILE))
    document = dict(state._asdict(), data_disks=list(state.data_disks))
    write_private(state_dir / STATE_FILE, json.dumps(document, indent=2) + "\n")
    return state


def load(state_dir: Path) -> AgentState:
    """Read the state written by `rehost agent import`."""
    path = state_dir / STATE_FILE
    if not path.exists():
        raise AgentStateError(
            f"No agent state in {state_dir}: run `rehost agent import` first. "
            f"{state_dir} 中没有客户端状态：请先运行 `rehost agent import`。"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["data_disks"] = tuple(raw.get("data_disks", ()))
    known = set(AgentState._fields)
    return AgentState(**{k: v for k, v in raw.items() if k in known})
