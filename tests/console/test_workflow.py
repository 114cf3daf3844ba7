"""The SMC console workflow in real headless Chromium against real processes, in both languages.

Everything is real: `rehost server` (console, API, embedded TLS transit, image builder) and
`rehost agent import` / `rehost agent run` replicating disk image files built by
tests/diskfactory.py. The job's bandwidth limit (advanced settings) keeps the sync running long
enough to watch progress, rate and ETA change without a reload, and to pause it while it syncs.
The failure is real too: the agent process is stopped while a second job syncs; the server
(heartbeat interval 1.5 s here) marks the source offline after 3 missed heartbeats and fails the
job with `SourceServer.Offline` and a fix hint, which the log page shows.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from console.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    MOBILE,
    RunningServer,
    agent_import,
    require_chromium,
    run_agent,
    run_server,
    shoot,
    stop_process,
)
from console.workflow import (
    TEXT,
    create_job,
    fail_and_read_log,
    finish_and_open_image,
    shot,
    watch_pause_resume,
)
from diskfactory import MIB, PartSpec, make_data_disk, make_disk

pytestmark = pytest.mark.browser
HEARTBEAT_S = 1.5  # server side: a silent agent is offline after 3 x 1.5 s


@dataclass(frozen=True)
class Disks:
    """Disk image files of one source: system (GPT, ESP + ext4 root) and one data disk."""

    system: Path
    data: Path


@pytest.fixture(scope="module")
def built_disks(tmp_path_factory: pytest.TempPathFactory) -> Disks:
    """Build the disk images once; each language run works on its own copy."""
    directory = tmp_path_factory.mktemp("disks")
    parts = (PartSpec(fs="vfat", size_mib=6),
             PartSpec(fs="ext4", files_bytes=6 * MIB, os_release=True, label="root"))
    system = make_disk(directory, name="web01.img", size_mib=40, parts=parts)
    data = make_data_disk(directory, size_mib=16, files_bytes=MIB)
    return Disks(system.path, data.path)


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
    """A fresh `rehost server` and data dir per language run."""
    with run_server(tmp_path / "data", heartbeat_s=HEARTBEAT_S) as running:
        yield running


def _login(page: Any, server: RunningServer, lang: str) -> None:
    page.goto(server.base_url + "/")
    page.click(f'.lang a[lang="{lang}"]')
    page.wait_for_load_state()  # the language link navigates: no document until it lands
    shoot(page, shot("login", lang))
    creds = server.admin()
    page.fill("#account", creds["account_name"])
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("#login-error").is_visible()
    page.fill("#password", creds["password"])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/sources$"))


def _import_source(page: Any, server: RunningServer, disks: Disks, state_dir: Path,
                   lang: str) -> str:
    """Create a code in the panel and run the exact agent command it shows, on image files."""
    page.click("#create-code")
    command = shlex.split(page.inner_text("#import-command"))
    assert command[:3] == ["rehost", "agent", "import"]
    assert command[command.index("--endpoint") + 1] == server.base_url
    code = f"{command[command.index('--code-id') + 1]}:{command[command.index('--code') + 1]}"
    shoot(page, shot("sources-import", lang))
    source_id = agent_import(server.base_url, code, system_disk=disks.system,
                             data_disks=(disks.data,), state_dir=state_dir)
    page.click("#manage-codes")
    row = page.locator("#codes-table tr[data-code-id]").first
    assert TEXT[lang]["activated"] in row.inner_text() and "1/100" in row.inner_text()
    shoot(page, shot("activation-codes", lang))
    return source_id


def _source_pages(page: Any, server: RunningServer, source_id: str, lang: str) -> None:
    page.goto(server.base_url + "/sources")
    row = page.locator(f'tr[data-source-id="{source_id}"]')
    assert "source-host" in row.inner_text() and "Debian" in row.inner_text()
    shoot(page, shot("sources", lang))
    row.locator(f'a[href="/sources/{source_id}"] >> nth=0').click()
    disks = page.inner_text("#disks-table")
    assert "vfat" in disks and "ext4" in disks
    shoot(page, shot("source-detail", lang))


def _mobile_pass(context: Any, server: RunningServer, lang: str, source_id: str) -> None:
    page = context.new_page()
    pages = {"sources": "/sources", "activation-codes": "/activation-codes",
             "source-detail": f"/sources/{source_id}",
             "job-new": f"/jobs/new?source_id={source_id}", "jobs": "/jobs",
             "images": "/images", "regions": "/regions"}
    for viewport, mobile in ((DESKTOP, False), (MOBILE, True)):
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            page.goto(server.base_url + path)
            shoot(page, shot(name, lang, mobile=True) if mobile else None)
    page.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_console_workflow(browser: Any, built_disks: Disks, server: RunningServer,
                          tmp_path: Path, lang: str) -> None:
    disks = Disks(tmp_path / "web01.img", tmp_path / "data.img")
    shutil.copyfile(built_disks.system, disks.system)
    shutil.copyfile(built_disks.data, disks.data)
    context = browser.new_context(viewport=DESKTOP, locale=lang)
    page = context.new_page()
    _login(page, server, lang)
    source_id = _import_source(page, server, disks, tmp_path / "agent", lang)
    with run_agent(tmp_path / "agent") as agent:
        _source_pages(page, server, source_id, lang)
        page.get_by_role("link", name=TEXT[lang]["create"]).last.click()
        job_id = create_job(page, lang)
        watch_pause_resume(page, job_id, lang)
        finish_and_open_image(page, job_id, lang)
        fail_and_read_log(page, server, source_id, lambda: stop_process(agent), lang)
    page.goto(server.base_url + "/regions")
    assert "1/10" in page.inner_text("#regions-table")  # the failed job keeps its slot
    shoot(page, shot("regions", lang))
    for name, path in (("region-new", "/regions/new"), ("transit-hosts", "/transit-hosts"),
                       ("preferences", "/preferences"), ("api-docs", "/docs")):
        page.goto(server.base_url + path)
        if name == "api-docs":
            page.wait_for_selector(".opblock-tag")
        shoot(page, shot(name, lang), full_page=name != "api-docs")
    _mobile_pass(context, server, lang, source_id)
    context.close()
