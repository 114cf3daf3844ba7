"""Walk every (status, action) pair of the job table and every source transition."""

from __future__ import annotations

import pytest

from rehost.domain.errors import InvalidStatus
from rehost.domain.states import (
    BusinessStatus,
    JobAction,
    JobStatus,
    SourceEvent,
    SourceState,
    next_business_status,
    next_job_status,
    next_source_state,
)

R, RUN, S, E, F, W, X, D = (
    JobStatus.READY, JobStatus.RUNNING, JobStatus.STOPPED, JobStatus.IN_ERROR,
    JobStatus.FINISHED, JobStatus.WAITING, JobStatus.EXPIRED, JobStatus.DELETING,
)
A = JobAction

# Written out by hand from docs/design.md (not derived from the code's table).
EXPECTED: dict[tuple[JobStatus, JobAction], JobStatus] = {
    (R, A.START): RUN, (S, A.START): RUN, (E, A.START): RUN,
    (W, A.START): RUN,  # an incremental job between cycles: start the next cycle now
    (RUN, A.PAUSE): S,
    (W, A.PAUSE): S,  # SMC: an incremental job can be stopped between cycles
    (R, A.DELETE): D, (S, A.DELETE): D, (E, A.DELETE): D, (F, A.DELETE): D, (W, A.DELETE): D,
    (X, A.DELETE): D,
    (R, A.MODIFY): R,
    (R, A.RENAME): R, (RUN, A.RENAME): RUN, (S, A.RENAME): S, (E, A.RENAME): E,
    (F, A.RENAME): F, (W, A.RENAME): W, (X, A.RENAME): X,
    (R, A.EXPIRE): X, (S, A.EXPIRE): X, (E, A.EXPIRE): X, (W, A.EXPIRE): X,
    (RUN, A.FAIL): E,
    (RUN, A.FINISH): F,
    (RUN, A.WAIT): W,  # an incremental job's cycle ended with its image
    (W, A.CUTOVER): F,  # CutOverReplicationJob: the incremental job ends
    (R, A.RESCHEDULE): R, (W, A.RESCHEDULE): W, (S, A.RESCHEDULE): S,  # Frequency, keep, ValidTime
}

PAIRS = [(s, a) for s in JobStatus for a in JobAction]


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_every_status_action_pair(status: JobStatus, action: JobAction) -> None:
    business = BusinessStatus.SYNCING if status is RUN else BusinessStatus.NONE
    if (status, action) in EXPECTED:
        assert next_job_status(status, action, business) is EXPECTED[(status, action)]
    else:
        with pytest.raises(InvalidStatus) as info:
            next_job_status(status, action, business)
        assert info.value.code == "ReplicationJob.InvalidStatus"
        assert info.value.message and info.value.message_zh


@pytest.mark.parametrize("business", list(BusinessStatus))
def test_pause_only_while_syncing(business: BusinessStatus) -> None:
    if business is BusinessStatus.SYNCING:
        assert next_job_status(RUN, A.PAUSE, business) is S
    else:
        with pytest.raises(InvalidStatus, match="Running/Syncing"):
            next_job_status(RUN, A.PAUSE, business)


def test_business_status_moves_forward_only() -> None:
    b = BusinessStatus
    assert next_business_status(RUN, b.PREPARING, b.SYNCING) is b.SYNCING
    assert next_business_status(RUN, b.SYNCING, b.PROCESSING) is b.PROCESSING
    assert next_business_status(RUN, b.PROCESSING, b.CLEANING) is b.CLEANING
    assert next_business_status(RUN, b.SYNCING, b.SYNCING) is b.SYNCING
    for current, target in [(b.SYNCING, b.PREPARING), (b.CLEANING, b.SYNCING)]:
        with pytest.raises(InvalidStatus):
            next_business_status(RUN, current, target)
    with pytest.raises(InvalidStatus):
        next_business_status(S, b.NONE, b.PREPARING)


SRC_EXPECTED = {
    (SourceState.UNAVAILABLE, SourceEvent.HEARTBEAT): SourceState.AVAILABLE,
    (SourceState.AVAILABLE, SourceEvent.JOB_STARTED): SourceState.IN_USE,
    (SourceState.IN_USE, SourceEvent.JOB_ENDED): SourceState.AVAILABLE,
    (SourceState.IN_USE, SourceEvent.HEARTBEAT_MISSED): SourceState.UNAVAILABLE,
    (SourceState.AVAILABLE, SourceEvent.DELETE): SourceState.DELETING,
}


@pytest.mark.parametrize(("state", "event"), [(s, e) for s in SourceState for e in SourceEvent])
def test_every_source_state_event_pair(state: SourceState, event: SourceEvent) -> None:
    refused = state is SourceState.DELETING and event is not SourceEvent.DELETE
    refused |= state is SourceState.UNAVAILABLE and event is SourceEvent.JOB_STARTED
    if refused:
        with pytest.raises(InvalidStatus) as info:
            next_source_state(state, event)
        assert info.value.code == "SourceServerState.Invalid"
    else:
        result = next_source_state(state, event)
        assert result is SRC_EXPECTED.get((state, event), result)
