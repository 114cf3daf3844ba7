"""Job and source states and their transition tables (one table per machine)."""

from __future__ import annotations

import enum

from rehost.domain import errors


class JobStatus(enum.StrEnum):
    """SMC job `Status`."""

    READY = "Ready"
    RUNNING = "Running"
    STOPPED = "Stopped"
    IN_ERROR = "InError"
    FINISHED = "Finished"
    WAITING = "Waiting"
    EXPIRED = "Expired"
    DELETING = "Deleting"


class BusinessStatus(enum.StrEnum):
    """SMC job `BusinessStatus`, meaningful while Running."""

    NONE = ""
    PREPARING = "Preparing"
    SYNCING = "Syncing"
    PROCESSING = "Processing"
    CLEANING = "Cleaning"


def parse_job_status(text: str | None) -> JobStatus | None:
    """A Status filter value (None when absent), or InvalidParameter.Status."""
    if text is None:
        return None
    try:
        return JobStatus(text)
    except ValueError as exc:
        allowed = ", ".join(JobStatus)
        raise errors.invalid("Status", f"Unknown status {text!r}; use one of {allowed}.",
                             f"未知状态 {text!r}；可选值：{allowed}。") from exc


def parse_business_status(text: str | None) -> BusinessStatus | None:
    """A BusinessStatus filter value (None when absent), or InvalidParameter.BusinessStatus."""
    if not text:
        return None
    try:
        return BusinessStatus(text)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in BusinessStatus if s.value)
        raise errors.invalid("BusinessStatus", f"Unknown business status; use one of {allowed}.",
                             f"未知业务状态；可选值：{allowed}。") from exc


class SourceState(enum.StrEnum):
    """SMC source server `State`."""

    AVAILABLE = "Available"
    IN_USE = "InUse"
    UNAVAILABLE = "Unavailable"
    DELETING = "Deleting"


class JobAction(enum.StrEnum):
    """Everything that can happen to a job."""

    START = "start"
    PAUSE = "pause"
    DELETE = "delete"
    MODIFY = "modify"  # fields other than name/description: only before the first run
    RENAME = "rename"  # name/description: any time
    EXPIRE = "expire"
    FAIL = "fail"
    FINISH = "finish"
    WAIT = "wait"  # an incremental job's cycle ended with its image: wait for the next one
    CUTOVER = "cutover"  # an incremental job ends: its last image is final (SMC CutOver)
    RESCHEDULE = "reschedule"  # Frequency, MaxNumberOfImageToKeep, ValidTime of a job


_S = JobStatus
_UNFINISHED = frozenset({_S.READY, _S.RUNNING, _S.STOPPED, _S.IN_ERROR, _S.WAITING, _S.EXPIRED})

# (status, action) -> next status; a missing pair is refused with ReplicationJob.InvalidStatus.
JOB_TRANSITIONS: dict[tuple[JobStatus, JobAction], JobStatus] = {
    **{(s, JobAction.START): _S.RUNNING
       for s in (_S.READY, _S.STOPPED, _S.IN_ERROR, _S.WAITING)},
    (_S.RUNNING, JobAction.PAUSE): _S.STOPPED,
    (_S.WAITING, JobAction.PAUSE): _S.STOPPED,  # SMC stops an incremental job between cycles
    **{
        (s, JobAction.DELETE): _S.DELETING
        for s in (_S.READY, _S.STOPPED, _S.IN_ERROR, _S.FINISHED, _S.WAITING, _S.EXPIRED)
    },
    (_S.READY, JobAction.MODIFY): _S.READY,
    **{(s, JobAction.RENAME): s for s in JobStatus if s is not _S.DELETING},
    **{(s, JobAction.EXPIRE): _S.EXPIRED for s in (_S.READY, _S.STOPPED, _S.IN_ERROR, _S.WAITING)},
    (_S.RUNNING, JobAction.FAIL): _S.IN_ERROR,
    (_S.RUNNING, JobAction.FINISH): _S.FINISHED,
    (_S.RUNNING, JobAction.WAIT): _S.WAITING,
    (_S.WAITING, JobAction.CUTOVER): _S.FINISHED,
    **{(s, JobAction.RESCHEDULE): s for s in (_S.READY, _S.WAITING, _S.STOPPED)},
}


def allowed_from(action: JobAction) -> list[JobStatus]:
    """Return the statuses from which `action` is allowed, in table order."""
    return [s for s in JobStatus if (s, action) in JOB_TRANSITIONS]


def next_job_status(
    status: JobStatus, action: JobAction, business: BusinessStatus = BusinessStatus.NONE
) -> JobStatus:
    """Return the status after `action`, or raise `ReplicationJob.InvalidStatus`."""
    target = JOB_TRANSITIONS.get((status, action))
    if (action is JobAction.PAUSE and status is JobStatus.RUNNING
            and business is not BusinessStatus.SYNCING):
        raise errors.job_status(action.value, f"{status}/{business or '-'}",
                                "Running/Syncing, Waiting")
    if target is None:
        allowed = ", ".join(allowed_from(action)) or "none"
        raise errors.job_status(action.value, status, allowed)
    return target


def is_unfinished(status: JobStatus) -> bool:
    """Return whether a job in `status` blocks another job on its source (SMC rule)."""
    return status in _UNFINISHED


# Business status moves forward only while Running.
BUSINESS_NEXT: dict[BusinessStatus, frozenset[BusinessStatus]] = {
    BusinessStatus.NONE: frozenset({BusinessStatus.PREPARING}),
    BusinessStatus.PREPARING: frozenset({BusinessStatus.SYNCING, BusinessStatus.PROCESSING}),
    BusinessStatus.SYNCING: frozenset({BusinessStatus.PROCESSING}),
    BusinessStatus.PROCESSING: frozenset({BusinessStatus.CLEANING}),
    BusinessStatus.CLEANING: frozenset(),
}


def next_business_status(
    status: JobStatus, current: BusinessStatus, target: BusinessStatus
) -> BusinessStatus:
    """Return `target` if the business status may move there, else raise InvalidStatus."""
    if status is not JobStatus.RUNNING:
        raise errors.job_status("set business status", status, "Running")
    if target is current:
        return current
    if target not in BUSINESS_NEXT[current]:
        raise errors.from_catalogue(errors.InvalidStatus, "ReplicationJob.InvalidBusinessStatus",
                                    current=current or "-", target=str(target))
    return target


class SourceEvent(enum.StrEnum):
    """Everything that can happen to a source server."""

    HEARTBEAT = "heartbeat"
    JOB_STARTED = "job_started"
    JOB_ENDED = "job_ended"
    HEARTBEAT_MISSED = "heartbeat_missed"
    DELETE = "delete"


_A = SourceState
SOURCE_TRANSITIONS: dict[tuple[SourceState, SourceEvent], SourceState] = {
    (_A.AVAILABLE, SourceEvent.HEARTBEAT): _A.AVAILABLE,
    (_A.IN_USE, SourceEvent.HEARTBEAT): _A.IN_USE,
    (_A.UNAVAILABLE, SourceEvent.HEARTBEAT): _A.AVAILABLE,
    (_A.AVAILABLE, SourceEvent.JOB_STARTED): _A.IN_USE,
    (_A.IN_USE, SourceEvent.JOB_STARTED): _A.IN_USE,
    (_A.IN_USE, SourceEvent.JOB_ENDED): _A.AVAILABLE,
    (_A.AVAILABLE, SourceEvent.JOB_ENDED): _A.AVAILABLE,
    (_A.UNAVAILABLE, SourceEvent.JOB_ENDED): _A.UNAVAILABLE,
    (_A.AVAILABLE, SourceEvent.HEARTBEAT_MISSED): _A.UNAVAILABLE,
    (_A.IN_USE, SourceEvent.HEARTBEAT_MISSED): _A.UNAVAILABLE,
    (_A.UNAVAILABLE, SourceEvent.HEARTBEAT_MISSED): _A.UNAVAILABLE,
    **{(s, SourceEvent.DELETE): _A.DELETING for s in SourceState},
}


def next_source_state(state: SourceState, event: SourceEvent) -> SourceState:
    """Return the source state after `event`, or raise `SourceServerState.Invalid`."""
    target = SOURCE_TRANSITIONS.get((state, event))
    if target is None:
        allowed = ", ".join(s for s in SourceState if (s, event) in SOURCE_TRANSITIONS)
        raise errors.source_state(state, allowed)
    return target
