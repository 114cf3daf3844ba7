"""`rehost-agent import|run|check|version`: the portable agent's CLI (argparse, stdlib only).

The same state directory and server calls as `rehost agent import|run` on a full install.
"""

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import List, Optional

from rehost import __version__
from rehost.agent import discovery, preflight, state
from rehost.agent.apiclient import AgentApiError, UrllibAgentClient
from rehost.agent.freeze import DEFAULT_FREEZE_LIMIT_S
from rehost.agent.livecopy import LiveSettings
from rehost.agent.lvmsnap import DEFAULT_SNAPSHOT_PERCENT
from rehost.agent.sysblock import sysfs_devices


def _percent(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(
            f"--snapshot-percent must be a whole number from 1 to 100, not {text!r} / "
            f"--snapshot-percent 必须是 1 到 100 的整数")
    return int(text)


def _freeze_limit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1.0 <= value <= 600.0:
        raise argparse.ArgumentTypeError(
            f"--freeze-limit must be 1 to 600 seconds, not {text!r} / "
            f"--freeze-limit 必须在 1 到 600 秒之间")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rehost-agent",
                                     description="rehost migration agent (portable).")
    sub = parser.add_subparsers(dest="command")
    imp = sub.add_parser("import", help="Register this machine as a migration source.")
    imp.add_argument("--endpoint", required=True, help="Server URL, e.g. https://host:7001.")
    imp.add_argument("--code", required=True, help="Activation code as CODE_ID:CODE.")
    imp.add_argument("--name", default=None, help="Source name [default: hostname].")
    imp.add_argument("--system-disk", default=None, help="Migrate this disk image file.")
    imp.add_argument("--data-disk", dest="data_disks", action="append", default=[],
                     help="Data disk image file (with --system-disk).")
    imp.add_argument("--ca-file", default="", help="PEM to trust for the https endpoint.")
    imp.add_argument("--state-dir", type=Path, default=state.DEFAULT_STATE_DIR)
    run = sub.add_parser("run", help="Heartbeat, poll for work, replicate disks.")
    run.add_argument("--state-dir", type=Path, default=state.DEFAULT_STATE_DIR)
    run.add_argument("--poll-interval", type=float, default=3.0)
    run.add_argument("--snapshot-percent", type=_percent, default=DEFAULT_SNAPSHOT_PERCENT,
                     help="LVM snapshot size for a mounted LV, in %% of the LV "
                          "(1-100) [default: %(default)s].")
    run.add_argument("--freeze-limit", type=_freeze_limit, default=DEFAULT_FREEZE_LIMIT_S,
                     help="Longest a filesystem stays frozen for the final catch-up pass, "
                          "in seconds (1-600) [default: %(default)s].")
    check = sub.add_parser("check", help="Pre-flight report: root, disks, server, clock.")
    check.add_argument("--state-dir", type=Path, default=state.DEFAULT_STATE_DIR)
    check.add_argument("--endpoint", default="", help="Server URL [default: the imported one].")
    check.add_argument("--ca-file", default="")
    check.add_argument("--disk", dest="disks", action="append", default=[],
                       help="Disk to test [default: the imported image files, else /sys/block].")
    sub.add_parser("version", help="Print the agent version.")
    return parser


def import_source(args: argparse.Namespace) -> int:
    """Discover, register with the activation code, store the state (0600)."""
    code_id, _, code = str(args.code).partition(":")
    if not code_id or not code:
        return _fail("give --code as CODE_ID:CODE / 请以 CODE_ID:CODE 形式提供 --code")
    if args.data_disks and not args.system_disk:
        return _fail("--data-disk needs --system-disk / --data-disk 需要同时提供 --system-disk")
    try:
        if args.system_disk:
            found = discovery.discover_image_files(Path(args.system_disk),
                                                   [Path(p) for p in args.data_disks])
        else:
            found = discovery.discover_server()
        inventory = found.to_dict()
        checks = preflight.report_for([d.path for d in found.disks], args.endpoint,
                                      args.ca_file or "")
        inventory["preflight"] = preflight.to_doc(checks)  # shown on the source
        client = UrllibAgentClient(args.endpoint, ca_file=args.ca_file)
        doc = client.import_source(code_id=code_id, code=code, inventory=inventory,
                                   name=args.name)
    except (discovery.DiscoveryError, AgentApiError) as exc:
        return _fail(str(exc))
    saved = state.save(args.state_dir, state.AgentState(
        endpoint=args.endpoint, source_id=str(doc["source_id"]),
        agent_token=str(doc["agent_token"]),
        heartbeat_interval_s=float(doc.get("heartbeat_interval_s") or 30.0),
        system_disk=str(Path(args.system_disk).resolve()) if args.system_disk else "",
        data_disks=tuple(str(Path(p).resolve()) for p in args.data_disks),
        ca_file=args.ca_file), ca_pem=str(doc.get("server_ca_pem") or ""))
    print(f"Import Source Server [{saved.source_id}] Successfully!")
    print(preflight.render(checks))
    return 0


def run_agent(args: argparse.Namespace) -> int:
    """Run the loop until SIGTERM/SIGINT."""
    from rehost.agent import main as loop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        loaded = state.load(args.state_dir)
    except state.AgentStateError as exc:
        return _fail(str(exc))
    try:
        loop.run(loaded, heartbeat_interval_s=loaded.heartbeat_interval_s,
                 stop=threading.Event(), poll_interval_s=args.poll_interval,
                 live=LiveSettings(snapshot_percent=args.snapshot_percent,
                                   freeze_limit_s=args.freeze_limit))
    except KeyboardInterrupt:
        return 0
    return 0


def check(args: argparse.Namespace) -> int:
    """Print the pre-flight report; exit 1 when a check fails."""
    try:
        loaded: Optional[state.AgentState] = state.load(args.state_dir)
    except state.AgentStateError:
        loaded = None
    endpoint = args.endpoint or (loaded.endpoint if loaded else "")
    if not endpoint:
        return _fail("give --endpoint (or import first) / 请提供 --endpoint")
    disks = list(args.disks)
    if not disks and loaded is not None and loaded.system_disk:
        disks = [loaded.system_disk, *loaded.data_disks]
    if not disks:
        disks = [str(d["path"]) for d in sysfs_devices() if d.get("size")]
    checks = preflight.report_for(disks, endpoint,
                                  args.ca_file or (loaded.ca_file if loaded else ""))
    print(preflight.render(checks))
    return 0 if preflight.passed(checks) else 1


def _fail(message: str) -> int:
    print(f"rehost-agent: {message}", file=sys.stderr)
    return 2


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the zipapp and of `python -m rehost.agent`."""
    args = _parser().parse_args(argv)
    if args.command == "import":
        return import_source(args)
    if args.command == "run":
        return run_agent(args)
    if args.command == "check":
        return check(args)
    if args.command == "version":
        print(__version__)
        return 0
    _parser().print_help()
    return 2
