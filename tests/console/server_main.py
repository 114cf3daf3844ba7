"""Run the real control-plane server with the console mounted (until `rehost server` mounts it)."""

from __future__ import annotations

import argparse

from rehost.config import load_settings
from rehost.console import create_console_router
from rehost.server import run_server


def main() -> None:
    """Parse --data-dir/--listen and serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--listen", required=True)
    args = parser.parse_args()
    run_server(load_settings(data_dir=args.data_dir, listen=args.listen),
               routers=[create_console_router()])


if __name__ == "__main__":
    main()
