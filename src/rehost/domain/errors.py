"""One error tree with SMC-style codes; every message says what to change, in English and Chinese.

    RehostError                      code, message (en), message_zh
    ├── InvalidParameter             400  InvalidParameter.<Field>, ReplicationJobName.Duplicate, …
    │   └── Duplicate                400  <Thing>.Duplicate
    ├── InvalidStatus                400  ReplicationJob.InvalidStatus, SourceServerState.Invalid, …
    ├── QuotaExceeded                400  QuotaExceeded.Vpc, QuotaExceeded.BatchSize
    ├── NotFound                     404  InvalidJobId.NotFound, InvalidSourceServerId.NotFound, …
    ├── Unauthenticated              401  InvalidAccessKeyId.NotFound, IncompleteSignature, …
    ├── Forbidden                    403  Forbidden.*
    ├── Throttled                    429  Throttling.Login
    └── BuildFailed                  (job)  Image.*, Check.*, Adapt.*, Transit.DiskFull, …

No HTTP here: the API maps classes to status codes in one table (`rehost.api.errors`).
"""

from __future__ import annotations


class RehostError(Exception):
    """Base of every error rehost reports to a user."""

    def __init__(self, code: str, message: str, message_zh: str, *, hint: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.hint = hint

    def localized(self, lang: str) -> str:
        """Return the message in `lang` ("zh…" → Chinese, else English)."""
        return self.message_zh if lang.lower().startswith("zh") else self.message


class InvalidParameter(RehostError):
    """A request field is missing, malformed or out of range."""


class Duplicate(InvalidParameter):
    """A name that must be unique is already taken."""


class InvalidStatus(RehostError):
    """The resource is in a state that does not allow the action."""


class QuotaExceeded(RehostError):
    """A quota (network slots, batch size, code count) would be exceeded."""


class NotFound(RehostError):
    """The resource does not exist or belongs to another account."""


class Unauthenticated(RehostError):
    """Credentials are missing or wrong."""


class Forbidden(RehostError):
    """Credentials are valid but the action is not allowed."""


class Throttled(RehostError):
    """Too many attempts; retry after `retry_after_s` seconds."""

    def __init__(self, code: str, message: str, message_zh: str, *, retry_after_s: int) -> None:
        super().__init__(code, message, message_zh)
        self.retry_after_s = retry_after_s


class BuildFailed(RehostError):
    """An image could not be built: the job goes InError with this code, texts and hint."""

    def __init__(self, code: str, message: str, hint: str, hint_zh: str = "", *,
                 message_zh: str = "") -> None:
        super().__init__(code, message, message_zh or message, hint=hint)
        self.hint_zh = hint_zh
        self.args = (message,)  # str(exc) is the message, as the job log shows it


def invalid(field: str, message: str, message_zh: str) -> InvalidParameter:
    """Build `InvalidParameter.<Field>`."""
    return InvalidParameter(f"InvalidParameter.{field}", message, message_zh)


def not_found(kind: str, resource_id: str) -> NotFound:
    """Build `Invalid<Kind>Id.NotFound` (kinds: Job, SourceServer, RegionId, ImageId, …)."""
    names = {
        "Job": ("migration job", "迁移任务"),
        "SourceServer": ("source server", "迁移源"),
        "Region": ("region", "地域"),
        "Image": ("image", "镜像"),
        "AccessToken": ("activation code", "激活码"),
        "Transit": ("transit", "中转实例"),
        "Workgroup": ("workgroup", "工作组"),
    }
    en, zh = names.get(kind, (kind, kind))
    code = "InvalidRegionId.NotFound" if kind == "Region" else f"Invalid{kind}Id.NotFound"
    return NotFound(
        code,
        f"The {en} {resource_id!r} does not exist. Check the ID (list them to see valid IDs).",
        f"{zh} {resource_id!r} 不存在。请检查 ID（可先列出现有资源）。",
    )


def job_status(action: str, status: str, allowed: str) -> InvalidStatus:
    """Build `ReplicationJob.InvalidStatus` for `action` refused in `status`."""
    return InvalidStatus(
        "ReplicationJob.InvalidStatus",
        f"Cannot {action} a migration job in status {status}; allowed only in: {allowed}.",
        f"迁移任务状态为 {status}，无法执行“{action}”；仅允许的状态：{allowed}。",
    )


def source_state(state: str, allowed: str) -> InvalidStatus:
    """Build `SourceServerState.Invalid`."""
    return InvalidStatus(
        "SourceServerState.Invalid",
        f"The source server is {state}; it must be {allowed}. Make sure its agent is running.",
        f"迁移源状态为 {state}，需要为 {allowed}。请确认迁移源上的客户端正在运行。",
    )
