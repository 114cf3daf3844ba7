"""`rehost backup` + `rehost restore` round-trip a server (jobs, images, keys) on SQLite and PG."""

from __future__ import annotations

import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from conftest import make_inventory, postgres_url
from rehost.cli.main import cli
from rehost.config import load_settings
from rehost.db.tables import AccessKeyRow
from rehost.domain.rules import JobRequest
from rehost.services import (
    accounts,
    activation,
    agents,
    bootstrap,
    dataplane,
    images,
    jobs,
    regions,
    runs,
)
from rehost.services.context import ServiceContext

IMAGE_BYTES = bytes(range(256)) * 4096


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """REHOST_* for a server in tmp_path: SQLite, or a fresh PostgreSQL database."""
    base = {"REHOST_DATA_DIR": str(tmp_path / "data")}
    if request.param == "sqlite":
        yield base
        return
    url = postgres_url()
    if not url:
        pytest.skip("REHOST_TEST_DATABASE_URL not set (bash scripts/start-postgres.sh)")
    name = "ops_" + uuid.uuid4().hex[:10]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield {**base, "REHOST_DATABASE_URL": url.rsplit("/", 1)[0] + f"/{name}"}
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def populate(environ: dict[str, str]) -> dict[str, Any]:
    """A server with an admin key, a Finished job, its image files; what to compare after."""
    ctx = bootstrap.open_context(load_settings(env=environ))
    creds = bootstrap.ensure_admin(ctx)
    assert creds is not None
    job_id, image_id = finished_job(ctx)
    ctx.db.dispose()
    return {"creds": creds, "job_id": job_id, "image_id": image_id}


def finished_job(ctx: ServiceContext) -> tuple[str, str]:
    """Import a source, run a job to Finished with a one-disk image on disk."""
    account_id = _account_id(ctx)
    code = activation.create_code(ctx, account_id, count=1)
    src = agents.import_source(ctx, code_id=code.code.id, code=code.secret,
                               inventory=make_inventory())
    job = jobs.create_job(ctx, account_id, source_id=src.source_id, region_id="local",
                          request=JobRequest())
    runs.start_job(ctx, account_id, job.id)
    image_id = "m-" + uuid.uuid4().hex[:20]
    store = Path(regions.get_region(ctx, account_id, "local").image_store_path) / image_id
    store.mkdir(parents=True)
    (store / "disk-0.raw").write_bytes(IMAGE_BYTES)
    dataplane.finish_job(ctx, job.id, image_id=image_id, manifest={
        "path": str(store), "disks": [{"index": 0, "file": "disk-0.raw"}]})
    return job.id, image_id


def _account_id(ctx: ServiceContext) -> Any:
    from sqlalchemy import select

    from rehost.db.tables import AccountRow

    with ctx.db.read() as session:
        return session.scalars(select(AccountRow.id)).one()


def rehost(environ: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=environ, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_backup_restore_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    before = populate(env)
    archive = tmp_path / "rehost-backup.tar.gz"
    out = rehost(env, "backup", "--output", str(archive), "--include-images")
    assert "master.key" in out and archive.stat().st_mode & 0o077 == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"manifest.json", "secrets/master.key", "images/0"} <= set(names)
    data_dir = Path(env["REHOST_DATA_DIR"])
    master_key = (data_dir / "master.key").read_bytes()
    shutil.rmtree(data_dir)  # the host is lost
    wipe_database(env)
    rehost(env, "restore", str(archive))
    assert (data_dir / "master.key").read_bytes() == master_key
    ctx = bootstrap.open_context(load_settings(env=env))
    try:
        account_id = _account_id(ctx)
        job = jobs.get_job(ctx, account_id, before["job_id"])
        assert job.status.value == "Finished" and job.image_id == before["image_id"]
        image = images.get_image(ctx, account_id, before["image_id"])
        disk = Path(image.manifest["path"]) / "disk-0.raw"
        assert disk.read_bytes() == IMAGE_BYTES
        with ctx.db.read() as session:  # the restored master key re-derives the old secret
            row = session.get(AccessKeyRow, before["creds"].access_key_id)
            assert row is not None
            assert accounts.key_secret(ctx, row) == before["creds"].access_key_secret
    finally:
        ctx.db.dispose()


def wipe_database(environ: dict[str, str]) -> None:
    """Drop every table of a PostgreSQL test database (the SQLite file went with the dir)."""
    url = environ.get("REHOST_DATABASE_URL")
    if not url:
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def test_restore_refuses_an_existing_database_without_force(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    populate(env)
    archive = tmp_path / "b.tar.gz"
    rehost(env, "backup", "-o", str(archive))
    result = CliRunner().invoke(cli, ["restore", str(archive)], env=env)
    assert result.exit_code != 0 and "--force" in result.output and "覆盖" in result.output
    rehost(env, "restore", str(archive), "--force")


def test_restore_refuses_a_foreign_file(tmp_path: Path) -> None:
    bogus = tmp_path / "x.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(__file__, arcname="hello.py")
    result = CliRunner().invoke(cli, ["restore", str(bogus)],
                                env={"REHOST_DATA_DIR": str(tmp_path / "d")})
    assert result.exit_code != 0 and "not a rehost backup" in result.output


def test_db_upgrade_reports_revisions(tmp_path: Path) -> None:
    out = rehost({"REHOST_DATA_DIR": str(tmp_path / "d")}, "db", "upgrade")
    assert f"(empty) -> {_head_revision()}" in out


def test_backup_names_a_wrong_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["backup", "-o", str(tmp_path / "b.tar.gz")],
                                env={"REHOST_DATA_DIR": str(tmp_path / "nowhere")})
    assert result.exit_code == 1 and "--data-dir" in result.output
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "b.tar.gz").exists()


def _head_revision() -> str:
    """The newest migration shipped (the test must not pin a number that later ones move)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import rehost.db.migrate as migrate

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head
