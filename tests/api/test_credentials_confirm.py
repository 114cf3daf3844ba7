"""`rehost configure` confirms the admin AccessKey: the server deletes admin-credentials.json."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi.testclient import TestClient

from rehost.api.app import create_app
from rehost.config import Settings
from rehost.services import accounts, bootstrap


def _basic(key_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def test_only_the_admin_key_deletes_the_credentials_file(tmp_path: Path) -> None:
    ctx = bootstrap.open_context(Settings(data_dir=tmp_path / "data", print_credentials=False))
    creds = bootstrap.ensure_admin(ctx)
    assert creds is not None and creds.path.exists()
    other = accounts.create_account(ctx, name="tenant", password="pw-123456")
    key = accounts.create_access_key(ctx, other.id)
    with TestClient(create_app(ctx.settings, context=ctx)) as client:
        assert client.post("/api/v1/credentials/confirm").status_code == 401
        theirs = client.post("/api/v1/credentials/confirm", headers=_basic(key.key.id,
                                                                           key.secret))
        assert theirs.json() == {"credentials_file_deleted": False} and creds.path.exists()
        mine = client.post("/api/v1/credentials/confirm",
                           headers=_basic(creds.access_key_id, creds.access_key_secret))
        assert mine.json() == {"credentials_file_deleted": True}
    assert not creds.path.exists()
    ctx.db.dispose()
