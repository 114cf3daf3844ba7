"""Which parameters each SMC action honours, and the SMC actions rehost refuses on purpose.

A parameter an action does not honour is refused (`InvalidParameter.Unsupported`, naming it)
rather than accepted and dropped: scripts written for SMC must not act on the wrong resources.
"""

from __future__ import annotations

import re

from rehost.api.smc import errors
from rehost.api.smc.params import Params

_INDEX = re.compile(r"\.\d+(?=\.|$)")

_JOB_FIELDS = frozenset({
    "Name", "Description", "SystemDiskSize", "Disks.System.Size", "DataDisk.N.Index",
    "DataDisk.N.Size", "ImageName", "ScheduledStartTime", "ValidTime", "ReplicationParameters",
    "RunOnce", "Frequency", "MaxNumberOfImageToKeep", "TargetType", "NetMode", "VSwitchId",
    "VpcId",
})
_PAGING = frozenset({"PageNumber", "PageSize"})

ACCEPTED: dict[str, frozenset[str]] = {
    "CreateReplicationJob": _JOB_FIELDS | {"SourceId", "RegionId", "JobType", "ClientToken",
                                           "Tag.N.Key", "Tag.N.Value"},
    "ModifyReplicationJobAttribute": _JOB_FIELDS | {"JobId"},
    "StartReplicationJob": frozenset({"JobId"}),
    "StopReplicationJob": frozenset({"JobId"}),
    "CutOverReplicationJob": frozenset({"JobId", "SyncData"}),
    "DeleteReplicationJob": frozenset({"JobId"}),
    "DescribeReplicationJobs": _PAGING | {"JobId.N", "SourceId.N", "Status", "Name", "RegionId",
                                          "BusinessStatus", "Tag.N.Key", "Tag.N.Value"},
    "DescribeSourceServers": _PAGING | {"SourceId.N", "State", "Name", "JobId", "Tag.N.Key",
                                        "Tag.N.Value"},
    "TagResources": frozenset({"ResourceType", "ResourceId.N", "Tag.N.Key", "Tag.N.Value"}),
    "UntagResources": frozenset({"ResourceType", "ResourceId.N", "TagKey.N", "All"}),
    "ListTagResources": frozenset({"ResourceType", "ResourceId.N", "Tag.N.Key", "Tag.N.Value",
                                   "NextToken"}),
    "ModifySourceServerAttribute": frozenset({"SourceId", "Name", "Description"}),
    "DeleteSourceServer": frozenset({"SourceId", "Force"}),
    "CreateAccessToken": frozenset({"Count", "TimeToLiveInDays", "Name"}),
    "ListAccessTokens": _PAGING | {"AccessTokenId", "Name", "Status"},
    "DisableAccessToken": frozenset({"AccessTokenId"}),
    "DeleteAccessToken": frozenset({"AccessTokenId"}),
    "CreateWorkgroup": frozenset({"Name", "Description", "Tag.N.Key", "Tag.N.Value",
                                  "ClientToken"}),
    "DeleteWorkgroup": frozenset({"WorkgroupId"}),
    "DescribeWorkgroups": _PAGING | {"WorkgroupId.N", "Name", "Status", "Tag.N.Key",
                                     "Tag.N.Value"},
    "ModifyWorkgroupAttribute": frozenset({"WorkgroupId", "Name", "Description"}),
    "AssociateSourceServers": frozenset({"WorkgroupId", "SourceId.N"}),
    "DisassociateSourceServers": frozenset({"WorkgroupId", "SourceId.N"}),
}

# SDK actions rehost answers with a clear refusal instead of InvalidAction.NotFound
UNSUPPORTED: dict[str, tuple[str, str, str]] = {
    "CreateCrossZoneMigrationJob": (
        "Unsupported.CrossZoneMigration", "rehost migrates servers into images; it has no "
        "cloud instances to move between zones",
        "rehost 将服务器迁移为镜像，没有可跨可用区迁移的云实例"),
}


def check_params(action: str, params: Params) -> None:
    """Refuse the first parameter `action` does not honour."""
    allowed = ACCEPTED[action]
    for key, _ in params.items():
        if _INDEX.sub(".N", key) not in allowed:
            raise errors.unsupported_parameter(key, action)


def refuse(action: str) -> errors.SmcError:
    """The refusal of an SMC action rehost does not implement."""
    code, en, zh = UNSUPPORTED[action]
    return errors.SmcError(code, f"{action} is not supported: {en}. 不支持 {action}：{zh}。")
