"""Where a region's image store may be: inside a configured root, away from the PKI folder
and from every other region's store (so no region can read or overwrite another's images,
the CA key or system folders such as /etc)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rehost.config import Settings
from rehost.db.tables import RegionRow
from rehost.domain import errors

PKI_DIR = "pki"
STORE_PATH_MAX = 4096


def _refused(path: str, why_en: str, why_zh: str) -> errors.InvalidParameter:
    return errors.invalid(
        "ImageStorePath",
        f"The image store path {path!r} is refused: {why_en}.",
        f"镜像存储路径 {path!r} 被拒绝：{why_zh}。",
    )


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def default_store(settings: Settings, account_id: str, region_id: str) -> str:
    """One folder per account and region under the first root."""
    return str(settings.store_roots[0] / "regions" / account_id / region_id / "images")


def check_store(session: Session, settings: Settings, path: str, *,
                region: tuple[str, str]) -> Path:
    """The resolved store path of `region` (account, id) if allowed, else InvalidParameter."""
    if not Path(path).is_absolute() or len(path) > STORE_PATH_MAX:
        raise _refused(path[:STORE_PATH_MAX], "give an absolute directory path",
                       "请填写绝对目录路径")
    real = Path(os.path.realpath(path))  # symlinks cannot lead out of a root
    roots = [Path(os.path.realpath(r)) for r in settings.store_roots]
    if not any(real != root and real.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        raise _refused(path, f"it must be a folder inside {shown} (the server's "
                       "--image-store-root); pick one there or start the server with another "
                       "--image-store-root",
                       f"须位于 {shown}（服务器的 --image-store-root）之内；请在其中选择目录，"
                       "或以其他 --image-store-root 启动服务器")
    if _overlaps(real, Path(os.path.realpath(settings.data_dir / PKI_DIR))):
        raise _refused(path, "it overlaps the server's PKI folder", "与服务器的 PKI 目录重叠")
    others = select(RegionRow.image_store_path).where(
        (RegionRow.account_id != region[0]) | (RegionRow.id != region[1]))
    for other in session.scalars(others):
        if _overlaps(real, Path(os.path.realpath(other))):
            raise _refused(path, f"it overlaps the image store {other!r} of another region; "
                           "pick a separate folder",
                           f"与另一地域的镜像存储 {other!r} 重叠；请选择独立的目录")
    return real
