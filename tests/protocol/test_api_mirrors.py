"""The REST response models and rehost.protocol describe the same documents: a rename fails.

The server answers the agent and the transit hosts through response models that mirror the
protocol's answers; the models must accept exactly the protocol's documents.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from rehost.api.schemas.hosts import HostJobOut, LookupOut, WorkItemOut, WorkOrdersOut
from rehost.protocol.hostapi import (
    BuildOrder,
    HostDisk,
    HostJob,
    Release,
    WorkOrders,
    lookup_json,
)
from rehost.protocol.work import DiskTask, WorkItem

ANSWERS: list[tuple[type[BaseModel], dict[str, object]]] = [
    (WorkItemOut, WorkItem("replicate", "j-1", "h:1", "t", (DiskTask(0, 1, 2, "/d"),)).to_json()),
    (WorkOrdersOut, WorkOrders(("j-2",), (Release("t-1", "j-1"),),
                               (BuildOrder("t-1", "j-1", "s", "m", "img", ((0, 1, 2),),
                                           digests=((0, "ab"),)),), ("m-0",)).to_json()),
    (LookupOut, lookup_json(HostJob("j-1", "t-1", True, (HostDisk(0, 1, 2),)))),
    (LookupOut, lookup_json(None)),
]


@pytest.mark.parametrize(("model", "doc"), ANSWERS)
def test_the_response_models_describe_the_protocols_answers(
        model: type[BaseModel], doc: dict[str, object]) -> None:
    assert model.model_validate(doc).model_dump(mode="json") == doc


def test_field_names_are_the_same_on_both_sides() -> None:
    assert set(WorkItemOut.model_fields) == set(WorkItem._fields)
    assert set(HostJobOut.model_fields) == set(HostJob._fields)
    assert set(WorkOrdersOut.model_fields) == set(WorkOrders._fields)
