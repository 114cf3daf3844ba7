"""Region network slots and batch limits."""

from __future__ import annotations

from rehost.domain.errors import InvalidParameter, QuotaExceeded

BATCH_MAX = 10
NETWORK_QUOTA_DEFAULT = 10
ACTIVATION_COUNT_MIN, ACTIVATION_COUNT_MAX, ACTIVATION_COUNT_DEFAULT = 1, 1000, 100
ACTIVATION_TTL_MIN, ACTIVATION_TTL_MAX, ACTIVATION_TTL_DEFAULT = 1, 90, 30


def free_slots(*, quota: int, reserved: int, in_use: int) -> int:
    """Return how many more transits the region can host (never negative)."""
    return max(0, quota - reserved - in_use)


def first_free_slot(used: set[int], *, quota: int, reserved: int) -> int:
    """Return the lowest free slot number, counting reserved slots as taken, or raise."""
    if free_slots(quota=quota, reserved=reserved, in_use=len(used)) > 0:
        for slot in range(reserved, quota):
            if slot not in used:
                return slot
    raise QuotaExceeded(
        "QuotaExceeded.Vpc",
        f"The region has no free transit network slot ({quota} in its quota, {reserved} "
        "reserved outside rehost, the rest in use). Wait for a running job to finish, "
        "delete an unfinished one, or raise the region's network quota.",
        f"该地域没有空闲的中转网络槽位（配额 {quota}，rehost 之外预留 {reserved}，其余使用中）。"
        "请等待运行中的任务结束、删除未完成的任务，或提高该地域的网络配额。",
    )


def check_batch(count: int) -> None:
    """Refuse an empty batch or one larger than 10 jobs."""
    if not 1 <= count <= BATCH_MAX:
        raise InvalidParameter(
            "InvalidParameter.JobIds",
            f"Start 1–{BATCH_MAX} jobs at a time (got {count}); split the batch.",
            f"每次可启动 1–{BATCH_MAX} 个任务（当前 {count}）；请分批操作。",
        )


def check_region_quota(*, quota: int, reserved: int) -> None:
    """Validate a region's network quota and reserved slots."""
    if not 1 <= quota <= 1000 or not 0 <= reserved <= quota:
        raise InvalidParameter(
            "InvalidParameter.NetworkQuota",
            "The network quota must be 1–1000 and reserved slots 0…quota.",
            "网络配额须为 1–1000，预留槽位须在 0 到配额之间。",
        )


def check_activation(count: int, ttl_days: int) -> None:
    """Validate activation code count (1–1000) and time to live (1–90 days)."""
    if not ACTIVATION_COUNT_MIN <= count <= ACTIVATION_COUNT_MAX:
        raise InvalidParameter(
            "InvalidParameter.Count",
            f"count must be {ACTIVATION_COUNT_MIN}–{ACTIVATION_COUNT_MAX} (got {count}).",
            f"可激活次数须为 {ACTIVATION_COUNT_MIN}–{ACTIVATION_COUNT_MAX}（当前 {count}）。",
        )
    if not ACTIVATION_TTL_MIN <= ttl_days <= ACTIVATION_TTL_MAX:
        raise InvalidParameter(
            "InvalidParameter.TimeToLiveInDays",
            f"ttl_days must be {ACTIVATION_TTL_MIN}–{ACTIVATION_TTL_MAX} (got {ttl_days}).",
            f"有效天数须为 {ACTIVATION_TTL_MIN}–{ACTIVATION_TTL_MAX}（当前 {ttl_days}）。",
        )
