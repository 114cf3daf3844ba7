"""A transit host's build plan carries the region settings the server sent in the work order."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from rehost.imaging.adapt import AdaptOptions
from rehost.transit.buildstep import BuildPlan, adapt_options
from rehost.transit.hostbuild import plan_from


def _order(plan: BuildPlan) -> dict[str, object]:
    """What api/routes/transit_hosts.py sends: the plan's fields, the transit id, no work dir."""
    return {"transit_id": "t-1", **asdict(plan), "work_dir": ""}


def test_work_order_carries_adapt_guests_and_an_old_order_does_not_adapt(tmp_path: Path) -> None:
    plan = BuildPlan(job_id="j-1", source_id="s-1", image_id="m-1", image_name="img",
                     work_dir=Path("t-1"), disks=((0, 1024, 2048),), adapt_guests=True)
    got = plan_from(_order(plan), tmp_path, {})
    assert got.adapt_guests is True and got.work_dir == tmp_path / "t-1"
    old = _order(replace(plan, adapt_guests=False))
    del old["adapt_guests"]  # a server from before migration 0011
    assert plan_from(old, tmp_path, {}).adapt_guests is False


def test_work_order_carries_the_adaptation_engine_and_network_option(tmp_path: Path) -> None:
    plan = BuildPlan(job_id="j-1", source_id="s-1", image_id="m-1", image_name="img",
                     work_dir=Path("t-1"), disks=((0, 1024, 2048),), adapt_guests=True,
                     adapt_engine="virt-v2v", keep_static_network=True)
    got = plan_from(_order(plan), tmp_path, {})
    assert adapt_options(got) == AdaptOptions(engine="virt-v2v", keep_static_network=True)
    old = _order(plan)
    del old["adapt_engine"], old["keep_static_network"]  # a server from before migration 0014
    assert adapt_options(plan_from(old, tmp_path, {})) == AdaptOptions()
    assert adapt_options(replace(plan, adapt_guests=False)) is None
