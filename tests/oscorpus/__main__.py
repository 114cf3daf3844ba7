"""python -m tests.oscorpus build NAME [--out PATH] | list"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: fslayouts, oscorpus

from oscorpus.corpus import corpus_image, ensure_cached
from oscorpus.recipe import LAYOUTS


def main(argv: list[str] | None = None) -> int:
    """Build (or find in the cache) corpus images; list the layouts."""
    parser = argparse.ArgumentParser(prog="python -m tests.oscorpus",
                                     description="Debian bookworm test images (debootstrap)")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build a layout into the cache (and copy it out)")
    build.add_argument("name", choices=sorted(LAYOUTS))
    build.add_argument("--out", type=Path, help="also write the raw image here")
    sub.add_parser("list", help="the layouts and what they hold")
    args = parser.parse_args(argv)
    if args.command == "list":
        for layout in LAYOUTS.values():
            print(f"{layout.name}: {layout.description}")
        return 0
    print(corpus_image(args.name, args.out) if args.out else ensure_cached(args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
