"""`rehost-agent check`: the pre-flight report (root, readable disks, server reachable, clock).

Standard library only, Python 3.6+. Each check is one line `OK|WARN|FAIL name: detail`. The
import sends the same report to the server in the inventory (`preflight`), shown on the source.
"""

import email.utils
import os
import time
import urllib.request
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

from rehost.agent.apiclient import api_context

MAX_SKEW_S = 300.0  # the server's tokens and TLS certificates tolerate this much


class PreflightCheck(NamedTuple):
    """One line of the report."""

    name: str
    level: str  # OK, WARN or FAIL
    detail: str


def check_root(euid: "Callable[[], int]" = os.geteuid) -> PreflightCheck:
    """Reading raw block devices needs root."""
    if euid() == 0:
        return PreflightCheck("root", "OK", "running as root")
    return PreflightCheck("root", "FAIL", "run as root to read the disks / 请以 root 身份运行")


def check_disks(paths: "Sequence[str]") -> List[PreflightCheck]:
    """Each disk opens for reading."""
    found = []
    for path in paths:
        try:
            os.close(os.open(path, os.O_RDONLY))
            found.append(PreflightCheck("disk " + path, "OK", "readable"))
        except OSError as exc:
            found.append(PreflightCheck("disk " + path, "FAIL",
                               f"{exc.strerror} / 无法读取磁盘 {path}"))
    return found


def check_server(endpoint: str, ca_file: str = "", *, timeout_s: float = 10.0,
                 now: "Callable[[], float]" = time.time) -> List[PreflightCheck]:
    """The API answers /api/v1/health, and the clocks agree within MAX_SKEW_S."""
    url = endpoint.rstrip("/") + "/api/v1/health"
    context = api_context(ca_file) if endpoint.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:
            date = response.headers.get("Date")
    except (OSError, ValueError) as exc:
        return [PreflightCheck("server", "FAIL", f"{url}: {exc} / 无法连接服务器")]
    found = [PreflightCheck("server", "OK", url)]
    parsed: Optional[float] = None
    if date:
        stamp = email.utils.parsedate_tz(date)
        parsed = float(email.utils.mktime_tz(stamp)) if stamp else None
    if parsed is None:
        found.append(PreflightCheck("clock", "WARN", "the server sent no Date header"))
        return found
    skew = now() - parsed
    level = "OK" if abs(skew) <= MAX_SKEW_S else "FAIL"
    found.append(PreflightCheck("clock", level, f"{skew:+.0f} s from the server"
                       + ("" if level == "OK" else " / 时钟偏差过大，请同步时间（NTP）")))
    return found


def render(checks: "Sequence[PreflightCheck]") -> str:
    """The report, one line per check."""
    return "\n".join(f"{c.level:<4} {c.name}: {c.detail}" for c in checks)


def passed(checks: "Sequence[PreflightCheck]") -> bool:
    """No FAIL."""
    return all(c.level != "FAIL" for c in checks)


def to_doc(checks: "Sequence[PreflightCheck]") -> "List[Dict[str, str]]":
    """The report as JSON for the inventory's `preflight` list."""
    return [{"name": c.name, "level": c.level, "detail": c.detail} for c in checks]


def report_for(disks: "Sequence[str]", endpoint: str, ca_file: str = "") -> "List[PreflightCheck]":
    """Every check, in the order `check` prints them."""
    return [check_root(), *check_disks(disks), *check_server(endpoint, ca_file)]
