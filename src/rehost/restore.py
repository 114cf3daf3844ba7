"""`rehost restore`: put a `rehost backup` archive back (the server must be stopped)."""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from rehost.backup import FORMAT, MANIFEST, libpq_url, run_tool
from rehost.config import Settings
from rehost.db.engine import Database
from rehost.db.migrate import alembic_config
from rehost.domain import errors
from rehost.services.bootstrap import database_url


def _refuse(en: str, zh: str) -> errors.InvalidParameter:
    return errors.InvalidParameter("InvalidParameter.Backup", en, zh)


def _occupied(en: str, zh: str) -> errors.InvalidStatus:
    return errors.InvalidStatus("RestoreTarget.NotEmpty", en, zh)


def read_manifest(staging: Path) -> dict[str, object]:
    """The archive's manifest, checked against this rehost's format and schema."""
    try:
        doc = json.loads((staging / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise _refuse("not a rehost backup: manifest.json is missing or not JSON",
                      "不是 rehost 备份：缺少 manifest.json 或其不是 JSON") from exc
    if not isinstance(doc, dict):
        raise _refuse("not a rehost backup: manifest.json is not an object",
                      "不是 rehost 备份：manifest.json 不是对象")
    if doc.get("format") != FORMAT:
        raise _refuse(f"backup format {doc.get('format')!r} is not {FORMAT}; restore it with "
                      "the rehost version that wrote it",
                      f"备份格式 {doc.get('format')!r} 不是 {FORMAT}；请用生成它的 rehost 版本恢复")
    known = {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if doc.get("revision") not in known:
        raise _refuse(f"the backup's schema {doc.get('revision')!r} is newer than this rehost; "
                      "upgrade rehost first", f"备份的数据库版本 {doc.get('revision')!r} 比当前 "
                      "rehost 新；请先升级 rehost")
    return doc


def _unpack(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(staging, filter="data")  # no absolute paths, links out, devices
    except (OSError, tarfile.TarError) as exc:
        raise _refuse(f"cannot read the backup {archive}: {exc}",
                      f"无法读取备份 {archive}：{exc}") from exc


def _restore_sqlite(settings: Settings, staging: Path, *, force: bool) -> None:
    target = settings.sqlite_path
    if target.exists() and not force:
        raise _occupied(f"{target} exists; stop the server and pass --force to replace it",
                        f"{target} 已存在；请停止服务器并加 --force 覆盖")
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(staging / "db" / "rehost.db", target)
    target.chmod(0o600)


def _restore_postgres(url: str, staging: Path, *, force: bool) -> None:
    db = Database(url)
    try:
        tables = inspect(db.engine).get_table_names()
    finally:
        db.dispose()
    if tables and not force:
        raise _occupied("the PostgreSQL database already has tables; stop the server and pass "
                        "--force to replace them", "PostgreSQL 数据库中已有表；请停止服务器并加 "
                        "--force 覆盖")
    run_tool(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={libpq_url(db.url)}", str(staging / "db" / "rehost.pgdump")],
             what="pg_restore")


def _names(doc: dict[str, object], key: str) -> list[str]:
    """A list of names in the manifest ([] when absent)."""
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _refuse(f"manifest.json: {key!r} is not a list of names",
                      f"manifest.json：{key!r} 不是名称列表")
    return [str(v) for v in value]


def _restore_files(settings: Settings, staging: Path, doc: dict[str, object], *,
                   force: bool) -> None:
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in _names(doc, "secrets"):
        src, dst = staging / "secrets" / name, settings.data_dir / name
        if dst.exists() and not force:
            raise _occupied(f"{dst} exists; pass --force to replace it",
                            f"{dst} 已存在；请加 --force 覆盖")
        if dst.is_dir():
            shutil.rmtree(dst)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    for number, store in enumerate(_names(doc, "image_stores")):
        src = staging / "images" / str(number)
        if src.is_dir():
            shutil.copytree(src, store, dirs_exist_ok=True)


def restore_backup(settings: Settings, archive: Path, *, force: bool) -> dict[str, object]:
    """Restore database, secrets and (if archived) image stores; returns the manifest."""
    with tempfile.TemporaryDirectory(prefix="rehost-restore-") as tmp:
        staging = Path(tmp)
        _unpack(archive, staging)
        doc = read_manifest(staging)
        url = database_url(settings)
        is_sqlite = url.startswith("sqlite")
        if doc.get("database") != ("sqlite" if is_sqlite else "postgresql"):
            raise _refuse(f"the backup holds a {doc.get('database')} database but this server "
                          f"is configured for {'sqlite' if is_sqlite else 'postgresql'}; set "
                          "REHOST_DATABASE_URL (or database_url in server.toml) to match",
                          f"备份中是 {doc.get('database')} 数据库，但服务器配置的是 "
                          f"{'sqlite' if is_sqlite else 'postgresql'}；请设置 REHOST_DATABASE_URL")
        _restore_files(settings, staging, doc, force=force)
        if is_sqlite:
            _restore_sqlite(settings, staging, force=force)
        else:
            _restore_postgres(url, staging, force=force)
    return doc


def current_revision(db: Database) -> str:
    """The database's Alembic revision ("" before the first migration)."""
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return ""
    with db.read() as session:
        return str(session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
