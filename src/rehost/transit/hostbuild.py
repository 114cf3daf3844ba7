"""Image builds on a transit host: the Processing step of `transit.buildstep`, results over HTTP."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rehost.domain.errors import BuildFailed
from rehost.domain.models import EventLevel
from rehost.imaging.adapt import AdaptOptions
from rehost.imaging.pipeline import Preparation, SizedDisk, prepare_disks, summary, verify_published
from rehost.protocol.hostapi import BuildOrder
from rehost.storage.local import LocalImageStore
from rehost.storage.manifest import ImageRecord
from rehost.transit.buildstep import (
    BuildPlan,
    PausePoint,
    Preparer,
    lower_build_priority,
    no_pause,
    run_build,
)
from rehost.transit.remote import HostApi, HostApiError, RemoteTransitControl

log = logging.getLogger(__name__)


def plan_from(doc: dict[str, object], work_root: Path, digests: dict[int, str]) -> BuildPlan:
    """The BuildPlan of a work order's JSON (raises WireError naming a bad field)."""
    return build_plan(BuildOrder.from_json(doc), work_root, digests)


def build_plan(order: BuildOrder, work_root: Path, digests: dict[int, str]) -> BuildPlan:
    """The BuildPlan of a work order, its disks in this host's work dir."""
    return BuildPlan(
        job_id=order.job_id, source_id=order.source_id, image_id=order.image_id,
        image_name=order.image_name, work_dir=work_root / order.transit_id, disks=order.disks,
        boot_mode=order.boot_mode, disk_format=order.disk_format, verify=order.verify,
        digests=tuple(sorted(digests.items())),
        accept_failed_checks=order.accept_failed_checks, adapt_guests=order.adapt_guests,
        adapt_engine=order.adapt_engine, keep_static_network=order.keep_static_network,
    )


def _preparer(pause: PausePoint) -> Preparer:
    def prepare(disks: Sequence[SizedDisk], boot_mode: str,
                adapt: AdaptOptions | None) -> Preparation:
        return prepare_disks(disks, boot_mode=boot_mode, adapt=adapt is not None,
                             options=adapt or AdaptOptions(), step=pause)

    return prepare


def _verify(record: ImageRecord) -> tuple[str, bool]:
    disks = [record.path / d.file for d in sorted(record.disks, key=lambda d: d.index)]
    result = verify_published(disks, image_dir=record.path, boot_mode=record.boot_mode)
    return summary(result), result.passed


class HostBuilder:
    """One thread per job in Processing; publishes into the host's image store."""

    def __init__(self, api: HostApi, control: RemoteTransitControl, work_root: Path,
                 image_store: Path, *, pause: PausePoint = no_pause) -> None:
        self._api, self._control, self._pause = api, control, pause
        self._root, self._store = work_root, LocalImageStore(image_store)
        self._running: dict[str, str] = {}  # job id -> image id being built
        self._lock = threading.Lock()

    def submit(self, order: BuildOrder) -> None:
        """Build the order's image unless that job's build already runs here."""
        job_id = order.job_id
        plan = build_plan(order, self._root, self._control.digests(job_id))
        with self._lock:
            if job_id in self._running:
                return
            self._running[job_id] = plan.image_id
        threading.Thread(target=self._run, args=(plan,), name=f"build-{job_id}",
                         daemon=True).start()

    def stored_images(self) -> list[str]:
        """Ids of the images in this host's store (for the work poll)."""
        return [r.image_id for r in self._store.list_images()]

    def delete_images(self, image_ids: list[str]) -> list[str]:
        """Delete images the server dropped from its catalogue, never one being built."""
        deleted = []
        with self._lock:
            for image_id in image_ids:
                if image_id not in self._running.values():
                    self._store.delete(image_id)
                    deleted.append(image_id)
        return deleted

    def _run(self, plan: BuildPlan) -> None:
        lower_build_priority()
        try:
            self._build(plan)
        except BuildFailed as exc:
            self._fail(plan.job_id, exc.code, exc.message, exc.hint)
        except HostApiError as exc:
            log.warning("build of %s not recorded: %s", plan.job_id, exc)
        except Exception as exc:  # a build must never die silently: the job would hang
            log.exception("image build of %s crashed", plan.job_id)
            self._fail(plan.job_id, "Image.BuildFailed", f"image build failed: {exc}",
                       "See the transit host's log; fix the cause and start the job again.")
        finally:
            with self._lock:
                self._running.pop(plan.job_id, None)

    def _fail(self, job_id: str, code: str, message: str, hint: str) -> None:
        try:
            self._api.post(f"jobs/{job_id}/build-failed",
                           {"code": code, "message": message, "hint": hint})
        except HostApiError as exc:
            log.warning("could not mark %s InError: %s", job_id, exc)

    def _build(self, plan: BuildPlan) -> None:
        def job_log(level: EventLevel, code: str, en: str, zh: str, hint: str) -> None:
            self._api.job_log(plan.job_id, level.value, code, en, zh, hint)

        self._store.delete(plan.image_id)  # a build interrupted by a restart: start clean
        record, verify_text = run_build(plan, store=self._store, now=datetime.now(UTC),
                                        log=job_log, prepare=_preparer(self._pause),
                                        verify=_verify, pause=self._pause)
        try:
            self._api.post(f"jobs/{plan.job_id}/build-finished", {
                "image_id": record.image_id, "manifest": _manifest(record),
                "verify_result": verify_text})
        except HostApiError as exc:
            if exc.status == 0:
                raise  # unreachable: keep the image; the next work poll retries the build
            self._store.delete(record.image_id)  # refused: never leave an unregistered image
            raise BuildFailed(exc.code or "Image.RegisterFailed",
                              f"image registration refused: {exc.message}",
                              "Check the image name, then start the job again.") from exc


def _manifest(record: ImageRecord) -> dict[str, object]:
    doc: dict[str, object] = json.loads(record.to_json())
    return doc
