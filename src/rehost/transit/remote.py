"""A transit host's side of the control plane: the host API over HTTP (httpx, Bearer token).

`HostApi` wraps `/api/v1/transit-hosts/self/*`; `RemoteTransitControl` implements
`rehost.transit.ports.TransitControl` on top of it for `rehost.transit.pool.ReceiverPool`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx

from rehost.client import trust
from rehost.protocol import hostapi
from rehost.protocol.fields import as_doc
from rehost.transit import linkcodec
from rehost.transit.ports import (
    DiskDigest,
    ReceiverProgress,
    TransitDisk,
    TransitJobSpec,
    plan_note_text,
)
from rehost.wire import WireError

log = logging.getLogger(__name__)
PREFIX = "/api/v1/transit-hosts"


class HostApiError(Exception):
    """The control plane refused a host call (or could not be reached)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class HostApi:
    """The host's authenticated calls to the control plane (`verify`: a CA file or bool)."""

    def __init__(self, endpoint: str, token: str, *, verify: str | bool = True,
                 timeout_s: float = 30.0) -> None:
        self._http = httpx.Client(base_url=endpoint.rstrip("/") + PREFIX, verify=trust(verify),
                                  timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        """Close the HTTP session."""
        self._http.close()

    def post(self, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        """POST a JSON body to /self/<path>; the decoded answer or HostApiError."""
        try:
            response = self._http.post(f"/self/{path}", json=body or {})
        except httpx.HTTPError as exc:
            raise HostApiError(0, "ConnectionFailed", str(exc)) from exc
        if response.status_code >= 400:
            try:
                doc = response.json()
            except ValueError:
                doc = {}
            raise HostApiError(response.status_code, str(doc.get("code", "")),
                               str(doc.get("message", response.text[:200])))
        try:
            return as_doc(response.json(), f"the answer of {path}")
        except (ValueError, WireError) as exc:
            raise HostApiError(response.status_code, "BadResponse", str(exc)) from exc

    def job_log(self, job_id: str, level: str, code: str, en: str, zh: str, hint: str) -> None:
        """One line of a job's log."""
        self.post(f"jobs/{job_id}/log", {"level": level, "code": code, "message_en": en,
                                         "message_zh": zh, "hint": hint})


class RemoteTransitControl:
    """TransitControl over the host API; work dirs live under this host's `work_root`."""

    def __init__(self, api: HostApi, work_root: Path) -> None:
        self._api, self._root = api, work_root
        self._digests: dict[str, dict[int, str]] = {}
        self._lock = threading.Lock()

    def digests(self, job_id: str) -> dict[int, str]:
        """The whole-disk digests of a job's last sync_done (for its image build)."""
        with self._lock:
            return dict(self._digests.get(job_id, {}))

    def lookup(self, token: str) -> TransitJobSpec | None:
        """Ask the control plane; the job's work dir is `<work_root>/<transit id>`."""
        try:
            job = hostapi.parse_lookup(self._api.post("lookup", {"data_token": token}))
        except (HostApiError, WireError) as exc:
            log.warning("data token lookup failed: %s", exc)
            return None
        if job is None:
            return None
        work_dir = self._root / job.transit_id
        work_dir.mkdir(parents=True, exist_ok=True)
        disks = tuple(TransitDisk(d.index, d.size_bytes, d.target_size_bytes) for d in job.disks)
        return TransitJobSpec(job_id=job.job_id, work_dir=work_dir, disks=disks,
                              checksum=job.checksum)

    def report_progress(self, progress: ReceiverProgress) -> None:
        """Forward durable progress (a refusal, e.g. the job was paused, is only logged)."""
        try:
            self._api.post("progress", linkcodec.progress_doc(progress))
        except HostApiError as exc:
            log.info("progress of %s not stored: %s", progress.job_id, exc)

    def sync_done(self, job_id: str, digests: tuple[DiskDigest, ...]) -> None:
        """All data durable: tell the control plane (the work poll then asks for the build)."""
        with self._lock:
            self._digests[job_id] = {d.index: d.digest_hex for d in digests if d.digest_hex}
        self._api.post("sync-done", linkcodec.digests_doc(job_id, digests))

    def log_plan(self, job_id: str, lines: list[str]) -> None:
        """The agent's send-plan notes, one job log line each."""
        try:
            for line in lines:
                en, zh = plan_note_text(line)
                self._api.job_log(job_id, "info", "Agent.SendPlan", en, zh, "")
        except (HostApiError, httpx.HTTPError) as exc:  # a log line never fails the send
            log.warning("job %s: send-plan notes not logged: %s", job_id, exc)

    def sync_failed(self, job_id: str, code: str, message: str) -> None:
        """The transit gave up on a job."""
        self._api.post("sync-failed", {"job_id": job_id, "code": code, "message": message})
