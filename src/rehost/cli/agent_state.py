"""The agent's state files: they live in `rehost.agent.state` (stdlib only, portable)."""

from rehost.agent.state import (
    CA_FILE,
    DEFAULT_STATE_DIR,
    STATE_FILE,
    AgentState,
    AgentStateError,
    load,
    save,
)

__all__ = ["CA_FILE", "DEFAULT_STATE_DIR", "STATE_FILE", "AgentState", "AgentStateError",
           "load", "save"]
