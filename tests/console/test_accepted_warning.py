"""A Finished job whose image was published despite failed checks shows a warning banner."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from console.conftest import import_source
from console.test_pages import Ctx, _account, _create, _job_id
from rehost.domain.ids import JobId
from rehost.domain.models import EventLevel


def _finished_job(console_ctx: Ctx, client: TestClient, *, accepted: bool) -> str:
    from rehost.services import builds, dataplane, runs

    ctx, creds = console_ctx
    account = _account(ctx, creds)
    source = import_source(ctx, account, "web-01")
    assert _create(client, source)[0] == 303
    job_id = _job_id(client.get("/jobs").text)
    runs.start_job(ctx, account, job_id)  # type: ignore[arg-type]
    log = builds.job_logger(ctx, JobId(job_id))
    log(EventLevel.INFO, "Image.Building", "Building the image.", "正在构建镜像。", "")
    if accepted:
        log(EventLevel.WARNING, "Check.Accepted", "Checks failed (kernel); published anyway.",
            "检查未通过（kernel）；镜像仍会发布。",
            "Test the image before using it: rehost image verify.")
    dataplane.finish_job(ctx, JobId(job_id), manifest={"disks": []})
    return job_id


@pytest.mark.parametrize(("lang", "title", "message", "hint"), [
    ("zh-CN", "警告：该镜像未通过检查，可能无法启动。", "检查未通过（kernel）；镜像仍会发布。",
     "使用前请先测试镜像"),
    ("en", "Warning: this image failed checks and may not boot.",
     "Checks failed (kernel); published anyway.", "Test the image before using it"),
])
def test_finished_job_with_accepted_checks_shows_a_warning_banner(
    console_ctx: Ctx, client: TestClient, lang: str, title: str, message: str, hint: str,
) -> None:
    client.get(f"/lang/{lang}")
    job_id = _finished_job(console_ctx, client, accepted=True)
    page = client.get(f"/jobs/{job_id}/log").text
    banner = page.split('id="accepted-warning"', 1)[1].split("</div>\n", 1)[0]
    assert 'class="flash warn" role="alert"' in page
    assert title in banner and message in banner and hint in banner and "Check.Accepted" in banner
    assert page.index('id="accepted-warning"') < page.index('id="job-log"')  # above the log


def test_finished_job_without_accepted_checks_has_no_banner(
    console_ctx: Ctx, client: TestClient,
) -> None:
    job_id = _finished_job(console_ctx, client, accepted=False)
    assert 'id="accepted-warning"' not in client.get(f"/jobs/{job_id}/log").text
