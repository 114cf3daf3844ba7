"""A job's effective OS adaptation: its own override, else its region's setting."""

from __future__ import annotations

from dataclasses import dataclass

from rehost.domain import errors

JOB, REGION = "job", "region"


@dataclass(frozen=True, slots=True)
class Adaptation:
    """What the build does to the guest and where each choice comes from ("job"/"region")."""

    adapt_guests: bool
    adapt_from: str
    keep_static_network: bool
    keep_from: str


def resolve(
    job_adapt: bool | None, job_keep: bool | None, *, region_adapt: bool, region_keep: bool
) -> Adaptation:
    """The job's override (not None) wins over the region's setting, field by field.

    keep_static_network only means something while adapting: it is False when adaptation is
    off, and then comes from wherever adaptation was turned off.
    """
    adapt, adapt_from = (region_adapt, REGION) if job_adapt is None else (job_adapt, JOB)
    if not adapt:
        return Adaptation(False, adapt_from, False, adapt_from)
    keep, keep_from = (region_keep, REGION) if job_keep is None else (job_keep, JOB)
    return Adaptation(True, adapt_from, keep, keep_from)


def check_job_options(
    job_adapt: bool | None, job_keep: bool | None, *, region_adapt: bool
) -> None:
    """Refuse keep_static_network=True on a job whose adaptation ends up off."""
    if not job_keep:
        return
    if job_adapt is False:
        raise errors.invalid(
            "KeepStaticNetwork",
            "keep_static_network only applies when the job adapts guests, and this job turns "
            "adaptation off (adapt_guests=false): drop keep_static_network or turn adapt_guests "
            "on.",
            "keep_static_network 仅在任务适配客户机时生效，"
            "而该任务关闭了适配（adapt_guests=false）："
            "请去掉 keep_static_network 或开启 adapt_guests。")
    if job_adapt is None and not region_adapt:
        raise errors.invalid(
            "KeepStaticNetwork",
            "keep_static_network only applies when the job adapts guests, and the job's region "
            "does not adapt them: set adapt_guests=true on the job or drop keep_static_network.",
            "keep_static_network 仅在任务适配客户机时生效，而该任务所在地域未开启适配："
            "请为任务设置 adapt_guests=true 或去掉 keep_static_network。")
