"""The agent's send under a bare interpreter: `python3 -I -S -m`-like, xxhash and zstandard
blocked, so the data plane falls back to blake2b-128 and zlib (what the pyz does on an old
server). Reads a pickled SendSpec path from argv, prints one JSON line of results."""

import importlib.abc
import json
import pickle
import sys
import time

BLOCKED = ("xxhash", "zstandard")


class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked for the stdlib path: " + name)
        return None


def main() -> None:
    """Run send_job on the spec and report what it did."""
    sys.meta_path.insert(0, _Block())
    from rehost.agent.sender import send_job

    with open(sys.argv[1], "rb") as fh:
        spec = pickle.load(fh)
    last = []
    started = time.perf_counter()
    result = send_job(spec, progress=last.append)
    elapsed = time.perf_counter() - started
    done = sum(d.done_bytes for d in last[-1].disks) if last else 0
    print(json.dumps({"elapsed_s": elapsed, "wire_bytes": result.wire_bytes_sent,
                      "raw_bytes": result.raw_bytes_sent, "done": done,
                      "completed": result.completed}))


if __name__ == "__main__":
    main()
