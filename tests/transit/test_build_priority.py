"""A build thread runs below the data plane: its nice value (and that of the tools it starts)
is raised by BUILD_NICE, the other threads of the process keep theirs."""

from __future__ import annotations

import os
import subprocess
import threading

from rehost.transit.buildstep import BUILD_NICE, lower_build_priority


def _nice_of(pid: int) -> int:
    """The nice value of a process or thread (field 19 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def test_only_the_build_thread_and_its_tools_run_at_a_lower_priority() -> None:
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def build() -> None:
        lower_build_priority()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        tool = subprocess.run(["sh", "-c", "cat /proc/self/stat"], capture_output=True,
                              text=True, check=True)
        seen["tool"] = int(tool.stdout.rsplit(")", 1)[1].split()[16])

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    assert seen == {"thread": min(19, main + BUILD_NICE), "tool": min(19, main + BUILD_NICE)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main
    assert _nice_of(os.getpid()) == main  # the process (its main thread) is unchanged
