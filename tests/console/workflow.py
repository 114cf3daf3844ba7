"""Steps of the browser workflow test: create, watch, pause/resume, finish, fail."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from console.browser import RunningServer, shoot

OFFLINE_CODE: Final = "SourceServer.Offline"
BANDWIDTH_KBPS: Final = 1024  # ~10 MiB to send: the sync lasts ~10 s (rate shown after 1 s)
TEXT: Final = {
    "zh-CN": {"ready": "未开始", "running": "运行中", "preparing": "准备中", "syncing": "同步中",
              "stopped": "已暂停", "finished": "已完成", "error": "出错", "start": "开始/重试",
              "pause": "暂停", "log": "查看日志", "create": "新建迁移任务", "activated": "已激活",
              "system": "系统盘", "data": "数据盘 1"},
    "en": {"ready": "Not started", "running": "Running", "preparing": "Preparing",
           "syncing": "Syncing", "stopped": "Paused", "finished": "Finished", "error": "Error",
           "start": "Start/Retry", "pause": "Pause", "log": "View log",
           "create": "Create migration job", "activated": "Activated", "system": "System disk",
           "data": "Data disk 1"},
}
# the screenshots kept in docs/screenshots: every page in zh-CN at 1280x800, a few en/mobile
SHOTS: Final = {
    ("zh-CN", False): {"login", "sources", "sources-import", "activation-codes", "source-detail",
                       "job-new", "job-new-error", "jobs", "jobs-progress", "job-log", "images",
                       "regions", "region-new", "transit-hosts", "preferences", "api-docs"},
    ("en", False): {"sources", "job-new", "jobs-progress", "job-log", "images"},
    ("zh-CN", True): {"sources", "job-new", "jobs", "images"},
    ("en", True): {"jobs"},
}


def shot(name: str, lang: str, *, mobile: bool = False) -> str | None:
    """The screenshot file name if this page/language/size is one we keep, else None."""
    if name not in SHOTS[(lang, mobile)]:
        return None
    return f"{name}-{lang}{'-mobile' if mobile else ''}"


def row(page: Any, job_id: str) -> Any:
    """The jobs-table row of a job."""
    return page.locator(f'tr[data-job-id="{job_id}"]')


def field(page: Any, job_id: str, name: str) -> str:
    """Text of one live field of a job row."""
    return str(row(page, job_id).locator(f"[data-field={name}]").inner_text())


def wait_field(page: Any, job_id: str, name: str, pattern: str, timeout_ms: int = 30000) -> None:
    """Wait (without reloading) until a row field matches a regular expression."""
    page.wait_for_function(
        "([id, f, p]) => { const el = document.querySelector("
        "`tr[data-job-id=\"${id}\"] [data-field=${f}]`);"
        " return el && new RegExp(p).test(el.textContent); }",
        arg=[job_id, name, pattern], timeout=timeout_ms,
    )


def row_action(page: Any, job_id: str, action: str) -> None:
    """Click a row's start/pause button (a form post and redirect back)."""
    row(page, job_id).locator(f'button[name=one][value="{action}:{job_id}"]').click()
    page.wait_for_load_state()


def _keyboard_order(page: Any) -> None:
    page.focus("#region_id")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    assert order == ["name", "description", "system_disk_size", "data_disk_1_enabled",
                     "data_disk_1_size"]


def create_job(page: Any, lang: str) -> str:
    """Fill the create form keyboard-only: bad size first, then good, with a bandwidth limit."""
    shoot(page, shot("job-new", lang))
    assert page.locator("#advanced").get_attribute("open") is None  # folded away
    _keyboard_order(page)
    page.focus("#name")
    page.keyboard.type(f"web-{lang}-job")
    page.focus("#system_disk_size")
    page.keyboard.press("Control+A")
    page.keyboard.type("0")  # below the region's minimum: refused by the services
    page.keyboard.press("Enter")
    page.wait_for_selector("#system_disk_size-error")
    assert page.evaluate("() => document.activeElement.id") == "system_disk_size"
    assert "InvalidParameter.SystemDiskSize" in page.inner_text("#system_disk_size-error")
    shoot(page, shot("job-new-error", lang))
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    page.focus("#advanced > summary")
    page.keyboard.press("Enter")  # unfold the advanced settings
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "bandwidth_limit"
    page.keyboard.press("Control+A")
    page.keyboard.type(str(BANDWIDTH_KBPS))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/jobs$"))
    job_id = str(page.locator("tr[data-job-id]").first.get_attribute("data-job-id"))
    assert TEXT[lang]["ready"] in row(page, job_id).inner_text()
    return job_id


def _percent(page: Any, job_id: str) -> float:
    match = re.match(r"([\d.]+)%", field(page, job_id, "percent"))
    return float(match.group(1)) if match else 0.0


def watch_pause_resume(page: Any, job_id: str, lang: str) -> None:
    """Batch-start, watch live progress/rate/ETA, pause while syncing, start/retry."""
    words = TEXT[lang]
    row(page, job_id).locator("input[name=job_id]").check()
    page.click("#batch-start")
    page.wait_for_load_state()
    assert words["running"] in field(page, job_id, "status")
    page.evaluate("() => { window.notReloaded = true; }")
    wait_field(page, job_id, "business", words["syncing"])
    wait_field(page, job_id, "percent", r"^(?!0\.0%)\d+\.\d%")
    wait_field(page, job_id, "rate", r"(KiB|MiB)/s")
    wait_field(page, job_id, "eta", r"\d")
    first = field(page, job_id, "percent")
    wait_field(page, job_id, "percent", rf"^(?!{re.escape(first)})\d+\.\d%")  # it moves
    assert page.evaluate("() => window.notReloaded === true")  # live, without reload
    page.wait_for_timeout(500)  # let the bar's width transition end before the screenshot
    shoot(page, shot("jobs-progress", lang))
    row_action(page, job_id, "pause")
    assert words["stopped"] in field(page, job_id, "status")
    paused_at = _percent(page, job_id)
    assert 0 < paused_at < 100
    page.wait_for_timeout(2000)
    page.reload()
    assert _percent(page, job_id) == paused_at  # the agent stopped sending
    row_action(page, job_id, "start")
    assert words["running"] in field(page, job_id, "status")


def finish_and_open_image(page: Any, job_id: str, lang: str) -> None:
    """Wait for Finished, follow the result link, check the image's disks and sizes."""
    words = TEXT[lang]
    wait_field(page, job_id, "status", words["finished"], timeout_ms=90000)
    wait_field(page, job_id, "result", r"m-")
    page.wait_for_timeout(500)  # let the bar's width transition end before the screenshot
    shoot(page, shot("jobs", lang))
    row(page, job_id).locator("[data-field=result] a").click()
    image_id = page.url.rsplit("#", 1)[1]
    text = page.inner_text(f'tr[id="{image_id}"]')
    assert f"{words['system']}: 1.00 GiB" in text and f"{words['data']}: 1.00 GiB" in text
    assert "2.00 GiB" in text and job_id in text
    checks = page.locator(f'tr[data-image-id="{image_id}"] [data-field=checks]')
    checks.locator("summary").click()  # the image builder's real post-migration checks
    assert "fsck" in checks.inner_text()
    shoot(page, shot("images", lang))


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


def fail_and_read_log(page: Any, server: RunningServer, source_id: str,
                      stop_agent: Callable[[], None], lang: str) -> None:
    """Start a second job, stop the agent while it syncs, read the failure in the log."""
    page.goto(f"{server.base_url}/jobs/new?source_id={source_id}")
    _schedule_too_early_is_refused(page)
    page.check('input[name=mode][value="immediate"]')
    page.click("#advanced > summary")
    page.fill("#bandwidth_limit", str(BANDWIDTH_KBPS))
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs$"))
    job_id = str(page.locator("tr[data-job-id]").first.get_attribute("data-job-id"))
    wait_field(page, job_id, "business", TEXT[lang]["syncing"])
    stop_agent()  # the source's agent dies mid-sync: 3 missed heartbeats fail the job
    wait_field(page, job_id, "status", TEXT[lang]["error"])
    assert field(page, job_id, "result") == OFFLINE_CODE
    row(page, job_id).get_by_text(TEXT[lang]["log"]).click()
    log = page.inner_text("#job-log")
    assert ("心跳" if lang == "zh-CN" else "heartbeats") in page.inner_text("#error-message")
    assert OFFLINE_CODE in log and "rehost agent run" in page.inner_text(".hint >> nth=0")
    shoot(page, shot("job-log", lang))
