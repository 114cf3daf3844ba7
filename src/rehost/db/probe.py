"""Start-up probe: the database must accept writes, or the server refuses to start."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from rehost.db.engine import Database


class DatabaseUnwritable(Exception):
    """The database refuses writes (read-only file or mount, full disk, no permission)."""


def require_writable(db: Database, *, migrate: Callable[[Database], None]) -> None:
    """Migrate, then rewrite one row in a real transaction; raise DatabaseUnwritable if refused."""
    try:
        migrate(db)
        with db.transaction() as session:
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))
    except (SQLAlchemyError, OSError) as exc:
        where = db.url.split("://", 1)[-1].rsplit("@", 1)[-1]  # never print a password
        raise DatabaseUnwritable(
            f"the database {where} does not accept writes ({_reason(exc)}): make it writable "
            "(permissions, read-only mount) or free space on its volume, then start again. "
            f"数据库 {where} 无法写入（{_reason(exc)}）：请使其可写（权限、只读挂载），"
            "或清理其所在卷的磁盘空间，然后重新启动。") from exc


def _reason(exc: BaseException) -> str:
    """The driver's one-line reason, without SQL or traceback."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).splitlines()[0][:200] if str(orig) else type(orig).__name__
