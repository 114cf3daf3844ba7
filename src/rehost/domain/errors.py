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

Texts: `from_catalogue(InvalidStatus, code, key=…, **params)` renders the message (and hint)
from `rehost.messages` and keeps key + params, so an edge renders it in its caller's language.
Passing the English and Chinese texts directly (the older way) keeps working.
"""

from __future__ import annotations

from typing import TypeVar

from rehost import messages


class RehostError(Exception):
    """Base of every error rehost reports to a user."""

    def __init__(self, code: str, message: str, message_zh: str, *, hint: str = "",
                 hint_zh: str = "", key: str = "",
                 params: dict[str, object] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.hint = hint
        self.hint_zh = hint_zh
        self.key = key  # the catalogue entry of the message ("" = texts given directly)
        self.params: dict[str, object] = dict(params or {})

    def localized(self, lang: str) -> str:
        """Return the message in `lang` ("zh…" → Chinese, else English)."""
        if self.key:
            return messages.render(self.key, lang, **self.params)
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
        super().__init__(code, message, message_zh or message, hint=hint, hint_zh=hint_zh)
        self.args = (message,)  # str(exc) is the message, as the job log shows it


E = TypeVar("E", bound=RehostError)


def from_catalogue(cls: type[E], code: str, *, key: str = "", hint_key: str = "",
                   **params: object) -> E:
    """An error of `cls` whose texts (and hint) come from the message catalogue."""
    key = key or code
    en, zh = messages.both(key, **params)
    hint, hint_zh = messages.both(hint_key, **params) if hint_key else ("", "")
    return cls(code, en, zh, hint=hint, hint_zh=hint_zh, key=key, params=params)


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
        "User": ("user", "用户"),
        "AccessKey": ("AccessKey", "AccessKey"),
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
    return from_catalogue(InvalidStatus, "ReplicationJob.InvalidStatus", action=action,
                          status=str(status), allowed=allowed)


def source_state(state: str, allowed: str) -> InvalidStatus:
    """Build `SourceServerState.Invalid`."""
    return from_catalogue(InvalidStatus, "SourceServerState.Invalid", state=str(state),
                          allowed=str(allowed))
