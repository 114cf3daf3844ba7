"""Region image stores stay inside the configured roots, away from the PKI and each other."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rehost.domain.errors import InvalidParameter
from rehost.services import accounts, regions
from rehost.services.context import ServiceContext


@pytest.mark.parametrize("where", ["/etc", "/", "/etc/rehost-images", "relative/store"])
def test_stores_outside_the_roots_are_refused(
        ctl_ctx: ServiceContext, ctl_account: Any, where: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        regions.create_region(ctl_ctx, ctl_account.id, region_id="r-out",
                              image_store_path=where)
    assert refused.value.code == "InvalidParameter.ImageStorePath"
    assert "镜像存储路径" in refused.value.message_zh
    assert not Path("/etc/rehost-images").exists()


def test_the_pki_folder_and_the_data_dir_itself_are_refused(
        ctl_ctx: ServiceContext, ctl_account: Any) -> None:
    data = ctl_ctx.settings.data_dir
    for n, where in enumerate((data / "pki", data / "pki" / "x", data)):
        with pytest.raises(InvalidParameter, match=r"PKI|inside"):
            regions.create_region(ctl_ctx, ctl_account.id, region_id=f"r-pki-{n}",
                                  image_store_path=str(where))


def test_a_symlink_out_of_the_root_is_refused(
        ctl_ctx: ServiceContext, ctl_account: Any, tmp_path: Path) -> None:
    (ctl_ctx.settings.data_dir / "escape").symlink_to(tmp_path)
    with pytest.raises(InvalidParameter, match="inside"):
        regions.create_region(ctl_ctx, ctl_account.id, region_id="r-link",
                              image_store_path=str(ctl_ctx.settings.data_dir / "escape" / "s"))


def test_overlapping_another_regions_store_is_refused(
        ctl_ctx: ServiceContext, ctl_account: Any) -> None:
    other = accounts.create_account(ctl_ctx, name="other-store", password="pw-123456")
    theirs = regions.create_region(ctl_ctx, other.id, region_id="r-a")
    mine = regions.ensure_local_region(ctl_ctx, ctl_account.id)
    assert theirs.image_store_path != mine.image_store_path  # one folder per account and region
    assert other.id in theirs.image_store_path
    for n, where in enumerate((theirs.image_store_path, theirs.image_store_path + "/sub",
                               str(Path(theirs.image_store_path).parent))):
        with pytest.raises(InvalidParameter, match="another region"):
            regions.create_region(ctl_ctx, ctl_account.id, region_id=f"r-b{n}",
                                  image_store_path=where)


def test_configured_roots_allow_other_folders(
        ctl_ctx: ServiceContext, ctl_account: Any, tmp_path: Path) -> None:
    root = tmp_path / "big-disk"
    ctx = replace(ctl_ctx, settings=replace(ctl_ctx.settings, image_store_roots=(root,)))
    made = regions.create_region(ctx, ctl_account.id, region_id="r-root",
                                 image_store_path=str(root / "dc2"))
    assert Path(made.image_store_path).is_dir()
    default = regions.create_region(ctx, ctl_account.id, region_id="r-root2")
    assert Path(default.image_store_path).is_relative_to(root)
    with pytest.raises(InvalidParameter):  # the data dir is no root once roots are given
        regions.create_region(ctx, ctl_account.id, region_id="r-root3",
                              image_store_path=str(ctl_ctx.settings.data_dir / "s"))
