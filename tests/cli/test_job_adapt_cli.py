"""`rehost job create/modify --adapt/--no-adapt/--keep-static-network`, and `job describe`'s
effective adaptation lines (value and where it comes from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.conftest import rehost
from cli.test_commands import import_image_source
from diskfactory import BuiltDisk
from rehost.cli.job import adaptation_lines
from smc.live import LiveServer


@pytest.mark.parametrize(("job", "region", "lines"), [
    ({"adapt_guests": False, "keep_static_network": None},
     {"adapt_guests": True, "keep_static_network": True},
     ["adapt guests: off (job)", "keep static network: off (job)"]),
    ({"adapt_guests": None, "keep_static_network": None},
     {"adapt_guests": True, "keep_static_network": False},
     ["adapt guests: on (region)", "keep static network: off (region)"]),
    ({"adapt_guests": True, "keep_static_network": True},
     {"adapt_guests": False, "keep_static_network": False},
     ["adapt guests: on (job)", "keep static network: on (job)"]),
])
def test_adaptation_lines(job: dict[str, object], region: dict[str, object], lines: list[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert adaptation_lines(job, region) == lines


def test_adaptation_lines_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert adaptation_lines({"adapt_guests": False}, {"adapt_guests": True}) == [
        "客户机适配: 关 (任务)", "保留静态网络: 关 (任务)"]


def test_job_adapt_options_on_the_command_line(live: LiveServer, gpt_system_disk: BuiltDisk,
                                               tmp_path: Path) -> None:
    env = {**live.env(), "LANG": "C.UTF-8"}
    made = rehost("region", "create", "adapting-1", "--image-store",
                  str(live.data_dir / "store-adapting-1"), "--adapt-guests", env=env)
    assert made.code == 0, made.stderr
    source_id = import_image_source(live, gpt_system_disk, tmp_path / "state")
    created = rehost("job", "create", "--source", source_id, "--region", "adapting-1",
                     "--no-adapt", "--output", "json", env=env)
    assert created.code == 0, created.stderr
    job = created.json()
    assert (job["adapt_guests"], job["keep_static_network"]) == (False, None)
    shown = rehost("job", "describe", job["job_id"], env=env)
    assert shown.code == 0, shown.stderr
    assert "adapt guests: off (job)" in shown.stdout.splitlines()
    refused = rehost("job", "modify", job["job_id"], "--keep-static-network", env=env)
    assert refused.code == 1
    assert "InvalidParameter.KeepStaticNetwork" in refused.stderr
    assert "keep_static_network" in refused.stderr
    both = rehost("job", "modify", job["job_id"], "--adapt", "--keep-static-network",
                  "--output", "json", env=env).json()
    assert (both["adapt_guests"], both["keep_static_network"]) == (True, True)
    mixed = rehost("job", "modify", job["job_id"], "--adapt-as-region", "--adapt", env=env)
    assert mixed.code != 0 and "--adapt-as-region" in mixed.stderr
    back = rehost("job", "modify", job["job_id"], "--adapt-as-region", "--output", "json",
                  env=env).json()
    assert (back["adapt_guests"], back["keep_static_network"]) == (None, None)
    lines = rehost("job", "describe", job["job_id"], env=env).stdout.splitlines()
    assert "adapt guests: on (region)" in lines and "keep static network: off (region)" in lines
    zh = rehost("job", "describe", job["job_id"], env={**env, "LANG": "zh_CN.UTF-8"})
    assert "客户机适配: 开 (地域)" in zh.stdout.splitlines()
