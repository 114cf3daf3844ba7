"""A throwaway local rehost (server + agent processes on loopback) for the demo and the e2e tests.

Everything goes through the real `rehost` CLI in subprocesses: `rehost server` on SQLite in a
data directory, `rehost agent import|run` against image files; nothing is called in-process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_S = 60.0


class StackError(RuntimeError):
    """A local rehost process did not start or a command failed (bilingual message)."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rehost_command() -> list[str]:
    """How to run the `rehost` CLI with this interpreter."""
    script = Path(sys.executable).parent / "rehost"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rehost.cli.main"]


@dataclass
class LocalStack:
    """A running `rehost server` and the agents started against it."""

    root: Path
    endpoint: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, *args: str, timeout_s: float = 120.0, check: bool = True,
            ) -> subprocess.CompletedProcess[str]:
        """Run one `rehost` command with this stack's endpoint and AccessKey."""
        done = subprocess.run([*rehost_command(), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout_s, check=False)
        if check and done.returncode != 0:
            raise StackError(
                f"`rehost {' '.join(args)}` failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-800:]} / 命令执行失败")
        return done

    def show(self, *args: str) -> int:
        """Run a command with its output on this terminal (progress bars); its exit code."""
        return subprocess.run([*rehost_command(), *args], env=self.env, check=False).returncode

    def json(self, *args: str, timeout_s: float = 120.0) -> Any:
        """Run a command with `--output json` and decode its document."""
        return json.loads(self.run(*args, "--output", "json", timeout_s=timeout_s).stdout)

    def import_source(self, state_dir: Path, *, system: Path, data: Path | None = None,
                      name: str = "") -> str:
        """Create an activation code and import image files as a source; its id."""
        code = self.json("activation-code", "create", "--count", "1")
        args = ["agent", "import", "--endpoint", self.endpoint, "--code",
                f"{code['code_id']}:{code['code']}", "--system-disk", str(system),
                "--state-dir", str(state_dir)]
        args += ["--data-disk", str(data)] if data is not None else []
        args += ["--name", name] if name else []
        return str(self.json(*args)["source_id"])

    def wait_job(self, job_id: str, *, timeout_s: float = 300.0) -> dict[str, Any]:
        """`rehost job wait`, then the job's document (whatever state it ended in)."""
        self.run("job", "wait", job_id, "--timeout", str(timeout_s), "--interval", "0.5",
                 check=False, timeout_s=timeout_s + 30)
        doc: dict[str, Any] = self.json("job", "describe", job_id)
        return doc

    def logs_tail(self, lines: int = 40) -> str:
        """The last lines of every log under root (for assertion messages)."""
        parts = []
        for log in sorted(self.root.rglob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log}\n" + "\n".join(text))
        return "\n".join(parts)

    def start_agent(self, state_dir: Path) -> subprocess.Popen[bytes]:
        """`rehost agent run` in the background (log: <state_dir>/agent.log)."""
        state_dir.mkdir(parents=True, exist_ok=True)
        return self._spawn(["agent", "run", "--state-dir", str(state_dir),
                            "--heartbeat-interval", "2", "--poll-interval", "0.5"],
                           state_dir / "agent.log")

    def _spawn(self, args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
        with log_path.open("ab") as log:
            proc = subprocess.Popen([*rehost_command(), *args], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stop every process this stack started (agents first, then the server)."""
        for proc in reversed(self.procs):
            _terminate(proc)
        self.procs.clear()


def start_stack(root: Path) -> LocalStack:
    """Start `rehost server` on free loopback ports with its data dir under root."""
    root.mkdir(parents=True, exist_ok=True)
    port, data_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REHOST_ENDPOINT": endpoint,
           "REHOST_CONFIG": str(root / "cli-config.json")}
    stack = LocalStack(root=root, endpoint=endpoint, env=env)
    data_dir = root / "server"
    server = stack._spawn(["server", "--data-dir", str(data_dir), "--listen",
                           f"127.0.0.1:{port}", "--data-listen", f"127.0.0.1:{data_port}"],
                          root / "server.log")
    try:
        _wait_ready(server, endpoint, root / "server.log")
        creds = json.loads((data_dir / "admin-credentials.json").read_text())
    except BaseException:
        stack.stop()
        raise
    env["REHOST_ACCESS_KEY_ID"] = creds["access_key_id"]
    env["REHOST_ACCESS_KEY_SECRET"] = creds["access_key_secret"]
    return stack


def _wait_ready(proc: subprocess.Popen[bytes], endpoint: str, log_path: Path) -> None:
    """Until the API answers; a server that exits or hangs is an error with its log tail."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{endpoint}/api/v1/openapi.json", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
    raise StackError(f"rehost server did not start (log {log_path}):\n{tail}\n"
                     f"rehost 服务器未能启动（日志见 {log_path}）。")


def _terminate(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it after grace_s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
