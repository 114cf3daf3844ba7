"""A transit in its own process (as in production): python -m bench.transit_proc JOB.json."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from rehost.pki import CertificateAuthority, issue_transit_cert, transit_server_context
from rehost.transit.fake import FakeTransitControl
from rehost.transit.pool import ReceiverPool
from rehost.transit.ports import TransitDisk, TransitJobSpec


def main() -> None:
    """Serve one job until stdin closes; prints the port, then 'done' when the job synced."""
    doc = json.loads(Path(sys.argv[1]).read_text())
    ca = CertificateAuthority(doc["ca_cert"].encode(), doc["ca_key"].encode())
    cert = issue_transit_cert(ca, ["127.0.0.1"], now=dt.datetime.now(dt.UTC))
    control = FakeTransitControl()
    disks = tuple(TransitDisk(i, s, s) for i, s in doc["disks"])
    control.add_job(doc["token"], TransitJobSpec("j-bench", Path(doc["work_dir"]), disks,
                                                 bool(doc["checksum"])))
    pool = ReceiverPool(control=control, ssl_context=transit_server_context(cert),
                       host="127.0.0.1", port=0)
    pool.start()
    print(pool.address[1], flush=True)
    sys.stdin.read()
    pool.stop()


if __name__ == "__main__":
    main()
