"""The agent loop reads mounted volumes through the live copy and always releases it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from rehost.agent.command import CommandError
from rehost.agent.livecopy import LiveSettings
from rehost.agent.main import AgentLoop, Replication
from rehost.agent.sendspec import SendDisk, SendError, SendSpec
from rehost.agent.state import AgentState


class FakeLive:
    """A live copy with one mounted volume whose disk is read through a view."""

    def __init__(self, disks: tuple[SendDisk, ...], *, fail_setup: bool = False) -> None:
        self.disks, self.fail_setup = disks, fail_setup
        self.active, self.released = True, False
        self.notes = {0: ["volume /dev/sda1 (ext4 on /): protected by ..."]}

    def setup(self) -> tuple[SendDisk, ...]:
        if self.fail_setup:
            raise CommandError(["dmsetup", "create"], "device busy")
        return tuple(d._replace(path=Path("/dev/mapper/rehost-view-sda")) for d in self.disks)

    def release(self) -> None:
        self.released = True


def _loop(sender: Any, live: list[FakeLive], **kw: Any) -> AgentLoop:
    def factory(disks: tuple[SendDisk, ...], settings: LiveSettings) -> Any:
        live.append(FakeLive(disks, **kw))
        return live[-1]
    state = AgentState(endpoint="http://x", source_id="s-1", agent_token="t")
    return AgentLoop(state, object(), heartbeat_interval_s=1.0,  # type: ignore[arg-type]
                     sender=sender, live_factory=factory)


SPEC = SendSpec(host="h", port=1, token="t", agent_id="s-1", ca_pem=b"",
                disks=(SendDisk(0, Path("/dev/sda"), 1 << 30),))


def test_the_sender_reads_the_views_and_gets_the_notes_and_the_live_copy() -> None:
    seen: dict[str, Any] = {}

    def sender(spec: SendSpec, **kw: Any) -> str:
        seen.update(kw, paths=[d.path for d in spec.disks])
        raise SendError("Agent.ReadError", "boom")

    live: list[FakeLive] = []
    with pytest.raises(SendError):
        _loop(sender, live)._send(SPEC, Replication("j-1", "t"))
    assert seen["paths"] == [Path("/dev/mapper/rehost-view-sda")]
    assert seen["live"] is live[0] and seen["notes"] == live[0].notes
    assert isinstance(seen["stop"], threading.Event)
    assert live[0].released  # also when the send fails


def test_a_failing_setup_is_a_clear_error_and_is_released() -> None:
    live: list[FakeLive] = []
    with pytest.raises(SendError) as err:
        _loop(lambda spec, **kw: None, live, fail_setup=True)._send(SPEC, Replication("j", "t"))
    assert err.value.code == "Agent.LiveCopySetup"
    assert "device busy" in err.value.message and "一致性" in err.value.message
    assert live[0].released
