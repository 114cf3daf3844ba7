"""REST shapes at the edge (pydantic): request bodies and the response model of every route.

`requests` holds the bodies; `jobs`, `resources` and `hosts` the responses, built from the
services' frozen dataclasses (and, for the agent and transit-host routes, mirroring
`rehost.protocol`); `base` the error body and the error statuses every route declares.
"""

from rehost.api.schemas.base import ERRORS, Deleted, ErrorOut, Ok, Out, iso
from rehost.api.schemas.jobs import event_out, job_out
from rehost.api.schemas.requests import (
    ActivationCodeIn,
    BatchStartIn,
    CutOverIn,
    DataDiskIn,
    ImageVerifyIn,
    JobCreateIn,
    JobModifyIn,
    Model,
    RegionIn,
    SourceModifyIn,
    TagIn,
    TagsIn,
    UntagIn,
    has_nul,
)
from rehost.api.schemas.resources import (
    code_out,
    image_out,
    region_out,
    source_out,
    verification_out,
)

__all__ = [
    "ERRORS",
    "ActivationCodeIn",
    "BatchStartIn",
    "CutOverIn",
    "DataDiskIn",
    "Deleted",
    "ErrorOut",
    "ImageVerifyIn",
    "JobCreateIn",
    "JobModifyIn",
    "Model",
    "Ok",
    "Out",
    "RegionIn",
    "SourceModifyIn",
    "TagIn",
    "TagsIn",
    "UntagIn",
    "code_out",
    "event_out",
    "has_nul",
    "image_out",
    "iso",
    "job_out",
    "region_out",
    "source_out",
    "verification_out",
]
