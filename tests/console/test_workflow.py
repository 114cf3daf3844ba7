"""The SMC console workflow in real headless Chromium against a real server, in both languages.

The test plays the agent through the REST agent endpoints (hand-made inventory) and, until the
data plane is wired into the server, plays the transit through `rehost.services.dataplane` on the
same database — the port the real transit drives. The console itself shows only real job fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    MOBILE,
    RunningServer,
    assert_no_horizontal_scroll,
    require_chromium,
    run_server,
    shoot,
)
from console.inventory import GIB, make_inventory
from rehost.client import AgentClient
from rehost.config import Settings
from rehost.domain.ids import JobId
from rehost.domain.models import DiskProgress
from rehost.domain.states import BusinessStatus
from rehost.services import bootstrap, dataplane
from rehost.services.context import ServiceContext

pytestmark = pytest.mark.browser

TEXT = {
    "zh-CN": {"ready": "未开始", "running": "运行中", "preparing": "准备中", "syncing": "同步中",
              "stopped": "已暂停", "finished": "已完成", "error": "出错", "start": "开始/重试",
              "pause": "暂停", "log": "查看日志", "create": "新建迁移任务", "image": "镜像"},
    "en": {"ready": "Not started", "running": "Running", "preparing": "Preparing",
           "syncing": "Syncing", "stopped": "Paused", "finished": "Finished", "error": "Error",
           "start": "Start/Retry", "pause": "Pause", "log": "View log",
           "create": "Create migration job", "image": "Image"},
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A fresh server and data dir per language run."""
    with run_server(tmp_path / "data") as running:
        yield running


@pytest.fixture
def transit(server: RunningServer) -> Iterator[ServiceContext]:
    """The data-plane side of the services, on the server's database."""
    ctx = bootstrap.open_context(Settings(data_dir=server.data_dir, print_credentials=False))
    yield ctx
    ctx.db.dispose()


def _login(page: Any, server: RunningServer, lang: str) -> None:
    page.goto(server.base_url + "/")
    page.click(f'.lang a[lang="{lang}"]')
    shoot(page, f"login-{lang}")
    creds = server.admin()
    page.fill("#account", creds["account_name"])
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("#login-error").is_visible()
    page.fill("#password", creds["password"])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sources$"))


def _import_source(page: Any, server: RunningServer, hostname: str, **kw: Any) -> str:
    page.goto(server.base_url + "/sources")
    page.click("#create-code")
    command = page.inner_text("#import-command")
    match = re.search(r"--endpoint (\S+) --code-id (\S+) --code (\S+)", command)
    assert match and match.group(1) == server.base_url
    agent = AgentClient(match.group(1))
    result = agent.import_source(code_id=match.group(2), code=match.group(3),
                                 inventory=make_inventory(hostname, **kw))
    agent.close()
    return str(result.get("source_id") or result.get("id"))


def _keyboard_create(page: Any, lang: str) -> None:
    page.focus("#region_id")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    assert order == ["name", "description", "system_disk_size", "data_disk_1_enabled",
                     "data_disk_1_size"]
    page.focus("#name")
    page.keyboard.type(f"web-{lang}-job")
    page.focus("#system_disk_size")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")  # below the used size: refused by the services
    page.keyboard.press("Enter")
    page.wait_for_selector("#system_disk_size-error")
    assert page.evaluate("() => document.activeElement.id") == "system_disk_size"
    assert "InvalidParameter.SystemDiskSize" in page.inner_text("#system_disk_size-error")
    shoot(page, f"job-new-error-{lang}")
    page.keyboard.press("Control+A")
    page.keyboard.type("40")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/jobs$"))


def _row(page: Any, job_id: str) -> Any:
    return page.locator(f'tr[data-job-id="{job_id}"]')


def _wait_text(page: Any, job_id: str, field: str, text: str) -> None:
    page.wait_for_function(
        "([id, f, t]) => { const el = document.querySelector("
        "`tr[data-job-id=\"${id}\"] [data-field=${f}]`);"
        " return el && el.textContent.includes(t); }",
        arg=[job_id, field, text], timeout=15000,
    )


def _row_action(page: Any, job_id: str, action: str) -> None:
    _row(page, job_id).locator(f'button[name=one][value="{action}:{job_id}"]').click()
    page.wait_for_load_state()


def _progress_pause_resume(page: Any, transit: ServiceContext, job_id: str, lang: str) -> None:
    words = TEXT[lang]
    dataplane.set_business_status(transit, JobId(job_id), BusinessStatus.SYNCING)
    dataplane.update_progress(transit, JobId(job_id), [
        DiskProgress(0, bytes_total=8 * GIB, bytes_done=2 * GIB, rate_bytes_per_s=100 * 1024**2,
                     eta_s=61.0),
    ])
    _wait_text(page, job_id, "percent", "25.0%")  # live, without reload
    _wait_text(page, job_id, "business", words["syncing"])
    assert "100.00 MiB/s" in _row(page, job_id).inner_text()
    page.wait_for_timeout(600)  # let the bar's width transition end before the screenshot
    shoot(page, f"jobs-progress-{lang}")
    _row_action(page, job_id, "pause")
    assert words["stopped"] in _row(page, job_id).locator("[data-field=status]").inner_text()
    _row_action(page, job_id, "start")
    assert words["running"] in _row(page, job_id).locator("[data-field=status]").inner_text()
    assert "25.0%" in _row(page, job_id).inner_text()  # resumed, not restarted from zero


def _finish(page: Any, transit: ServiceContext, job_id: str, lang: str) -> None:
    dataplane.set_business_status(transit, JobId(job_id), BusinessStatus.SYNCING)
    dataplane.update_progress(transit, JobId(job_id), [
        DiskProgress(0, bytes_total=8 * GIB, bytes_done=8 * GIB, rate_bytes_per_s=0.0, eta_s=0.0),
    ])
    dataplane.sync_done(transit, JobId(job_id))
    manifest = {"disks": [{"index": 0, "size_bytes": 40 * GIB, "format": "raw"},
                          {"index": 1, "size_bytes": 100 * GIB, "format": "raw"}]}
    image = dataplane.finish_job(transit, JobId(job_id), manifest=manifest,
                                 verify_result="passed")
    _wait_text(page, job_id, "status", TEXT[lang]["finished"])
    _wait_text(page, job_id, "result", image.id)
    _row(page, job_id).locator("[data-field=result] a").click()
    page.wait_for_selector(f'tr[id="{image.id}"]')
    assert "140.00 GiB" in page.inner_text(f'tr[id="{image.id}"]')
    shoot(page, f"images-{lang}")


def _schedule_too_early_is_refused(page: Any) -> None:
    assert page.locator("#scheduled_start_time").is_hidden()
    page.check('input[name=mode][value="scheduled"]')
    soon = page.evaluate("""() => { const d = new Date(Date.now() + 5 * 60000);
        const p = n => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:`
             + p(d.getMinutes()); }""")
    page.fill("#scheduled_start_time", soon)
    page.click("#submit-job")
    message = page.eval_on_selector("#scheduled_start_time", "el => el.validationMessage")
    assert message == page.get_attribute("#scheduled_start_time", "data-too-early")
    assert "/jobs/new" in page.url  # nothing was submitted


def _failed_job_log(page: Any, server: RunningServer, transit: ServiceContext, lang: str) -> None:
    source_id = _import_source(page, server, f"db-{lang}", data_disks=())
    page.goto(f"{server.base_url}/jobs/new?source_id={source_id}")
    assert page.locator("#data-disks .help strong").is_visible()  # FAQ: no data disk
    _schedule_too_early_is_refused(page)
    page.check('input[name=mode][value="immediate"]')
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs$"))
    job_id = page.locator("tr[data-job-id]").first.get_attribute("data-job-id")
    dataplane.fail_job(transit, JobId(job_id), code="SourceDisk.ReadError",
                       message_en="Reading /dev/vda failed at 1.2 GiB: I/O error.",
                       message_zh="读取 /dev/vda 在 1.2 GiB 处失败：I/O 错误。",
                       hint="Check the source disk with dmesg, then click Start/Retry.")
    _wait_text(page, job_id, "status", TEXT[lang]["error"])
    _row(page, job_id).get_by_text(TEXT[lang]["log"]).click()
    log = page.inner_text("#job-log")
    assert "SourceDisk.ReadError" in log and "dmesg" in log
    shoot(page, f"job-log-{lang}")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_console_workflow(browser: Any, server: RunningServer, transit: ServiceContext,
                          lang: str) -> None:
    context = browser.new_context(viewport=DESKTOP, locale=lang)
    page = context.new_page()
    _login(page, server, lang)
    source_id = _import_source(page, server, f"web-{lang}")
    shoot(page, f"sources-import-{lang}")
    page.goto(server.base_url + "/sources")
    page.wait_for_selector(f'tr[data-source-id="{source_id}"]')
    shoot(page, f"sources-{lang}")
    page.click(f'tr[data-source-id="{source_id}"] a[href="/sources/{source_id}"] >> nth=0')
    assert "/boot/efi" in page.inner_text("#disks-table")
    shoot(page, f"source-detail-{lang}")
    page.get_by_role("link", name=TEXT[lang]["create"]).last.click()
    shoot(page, f"job-new-{lang}")
    _keyboard_create(page, lang)
    job_id = page.locator("tr[data-job-id]").first.get_attribute("data-job-id")
    assert TEXT[lang]["ready"] in _row(page, job_id).inner_text()
    _row(page, job_id).locator("input[name=job_id]").check()
    page.click("#batch-start")
    page.wait_for_load_state()
    assert TEXT[lang]["preparing"] in _row(page, job_id).inner_text()
    _progress_pause_resume(page, transit, job_id, lang)
    _finish(page, transit, job_id, lang)
    _failed_job_log(page, server, transit, lang)
    page.goto(server.base_url + "/regions")
    assert "1/10" in page.inner_text("#regions-table")  # the failed job keeps its slot
    shoot(page, f"regions-{lang}")
    _mobile_pass(context, server, lang, source_id)
    context.close()


def _mobile_pass(context: Any, server: RunningServer, lang: str, source_id: str) -> None:
    page = context.new_page()
    pages = {"sources": "/sources", "source-detail": f"/sources/{source_id}",
             "job-new": f"/jobs/new?source_id={source_id}", "jobs": "/jobs",
             "images": "/images", "regions": "/regions"}
    for viewport, suffix in ((DESKTOP, ""), (MOBILE, "-mobile")):
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            page.goto(server.base_url + path)
            assert_no_horizontal_scroll(page)
            shoot(page, f"{name}-{lang}{suffix}")
    page.close()
