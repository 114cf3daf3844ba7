"""SMC-shaped errors of the RPC endpoint: `{"RequestId","HostId","Code","Message","Recommend"}`."""

from __future__ import annotations

from rehost.domain import errors as domain_errors
from rehost.domain.errors import RehostError
from rehost.jsonvalue import JsonObject


class SmcError(Exception):
    """A refused RPC request, carried to the response as SMC's error document."""

    def __init__(
        self, code: str, message: str, *, http_status: int = 400, recommend: str = ""
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.recommend = recommend


def error_body(error: SmcError, *, request_id: str, host_id: str) -> JsonObject:
    """The JSON error document the official SDK parses (Code, Message, RequestId)."""
    return {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": error.code,
        "Message": error.message,
        "Recommend": error.recommend,
    }


def incomplete_signature(detail: str) -> SmcError:
    """The Authorization header is missing or malformed."""
    return SmcError(
        "IncompleteSignature",
        f"The request signature does not conform to Aliyun standards: {detail}. "
        f"请求签名不符合阿里云 V3 签名规范：{detail}。",
        recommend="Sign with ACS3-HMAC-SHA256 (e.g. the official SDK) and sign host, "
        "content-type and every x-acs-* header.",
    )


def missing_parameter(name: str) -> SmcError:
    """A mandatory header or parameter is absent."""
    return SmcError(
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not '
        f"supplied. 缺少必填参数 {name}。",
    )


def invalid_parameter(name: str, detail: str, *, code: str = "") -> SmcError:
    """A parameter has an unusable value."""
    return SmcError(
        code or f"InvalidParameter.{name}",
        f"The specified parameter {name} is not valid: {detail}. 参数 {name} 无效：{detail}。",
    )


def malformed_form(position: int) -> SmcError:
    """A form body (or a %-escape in it) that is not UTF-8."""
    return SmcError(
        "InvalidParameter.Body",
        f"The form body is not valid UTF-8 (at byte {position}); encode every parameter as "
        f"UTF-8 and percent-escape it. 表单请求体不是有效的 UTF-8（第 {position} 字节）；请将参数"
        "按 UTF-8 编码并进行百分号转义。",
    )


def unsupported_parameter(name: str, action: str) -> SmcError:
    """A parameter rehost does not honour for this action (refused, never dropped)."""
    return SmcError(
        "InvalidParameter.Unsupported",
        f"The parameter {name} is not supported by rehost's {action}; remove it (rehost would "
        f"otherwise ignore it). rehost 的 {action} 不支持参数 {name}；请删除该参数。",
    )


def access_key_not_found() -> SmcError:
    """The AccessKey ID is unknown (or disabled)."""
    return SmcError(
        "InvalidAccessKeyId.NotFound",
        "Specified access key is not found. 指定的 AccessKey 不存在。",
        http_status=404,
        recommend="Check the AccessKey ID, or create one with the rehost console or CLI.",
    )


def signature_mismatch(server_string_to_sign: str) -> SmcError:
    """The signature differs from the one computed with the AccessKey secret."""
    hint = server_string_to_sign.replace("\n", "\\n")
    return SmcError(
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation. server string to sign is:"
        f"{hint} 签名与服务端计算结果不一致。",
        recommend="Check the AccessKey secret and that the request was not changed after signing.",
    )


def timestamp_expired(value: str) -> SmcError:
    """x-acs-date is more than 15 minutes from the server clock."""
    return SmcError(
        "InvalidTimeStamp.Expired",
        f"Specified time stamp or date value is expired: {value}. "
        f"请求时间 {value} 与服务器时间相差超过 15 分钟。",
        recommend="Synchronise the client clock (NTP) and retry.",
    )


def nonce_used(nonce: str) -> SmcError:
    """The x-acs-signature-nonce was already seen within the replay window."""
    return SmcError(
        "SignatureNonceUsed",
        f"Specified signature nonce was used already: {nonce}. 签名随机数 {nonce} 已被使用。",
        recommend="Use a fresh random x-acs-signature-nonce for every request.",
    )


def action_not_found(action: str) -> SmcError:
    """The x-acs-action names no supported operation."""
    return SmcError(
        "InvalidAction.NotFound",
        f"Specified api is not found, please check your url and method: {action}. "
        f"不支持的操作 {action}。",
        http_status=404,
    )


def invalid_version(version: str) -> SmcError:
    """The x-acs-version is not SMC's 2019-06-01."""
    return SmcError(
        "InvalidVersion",
        f"Specified parameter Version is not valid: {version} (expected 2019-06-01). "
        f"API 版本 {version} 无效，应为 2019-06-01。",
    )


def internal_error() -> SmcError:
    """An unexpected failure; details are in the server log under the request id."""
    return SmcError(
        "InternalError",
        "An error occurred while processing your request. Please try again. "
        "处理请求时发生内部错误，请重试。",
        http_status=500,
    )


def from_domain(error: RehostError) -> SmcError:
    """The SMC error document of a domain error (same code; English + Chinese message)."""
    status = next((s for cls, s in _DOMAIN_STATUS if isinstance(error, cls)), 400)
    return SmcError(error.code, f"{error.message} {error.message_zh}", http_status=status,
                    recommend=error.hint)


_DOMAIN_STATUS: tuple[tuple[type[RehostError], int], ...] = (
    (domain_errors.NotFound, 404),
    (domain_errors.Forbidden, 403),
    (domain_errors.Unauthenticated, 400),
)
