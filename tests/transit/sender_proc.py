"""Run send_job in a child process (so a test can SIGKILL it): sender_proc.py SPEC.pickle."""

from __future__ import annotations

import pickle
import sys

from rehost.agent.sender import send_job


def main() -> None:
    """Load the pickled SendSpec and send."""
    with open(sys.argv[1], "rb") as f:
        spec = pickle.load(f)
    send_job(spec)


if __name__ == "__main__":
    main()
