"""Catalogues: same keys in both languages, every key the templates use exists, SMC wording."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rehost.console.i18n import LOCALES, Translator, load_catalog, pick_locale
from rehost.domain.states import BusinessStatus, JobStatus, SourceState

CONSOLE = Path(__file__).parents[2] / "src" / "rehost" / "console"
_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[A-Za-z_]+)+)["']""")


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("*.py")]:
        keys |= set(_KEY.findall(path.read_text(encoding="utf-8")))
    return keys


def test_catalogues_have_the_same_keys() -> None:
    zh, en = load_catalog("zh-CN"), load_catalog("en")
    assert set(zh) == set(en)
    assert all(v.strip() for v in [*zh.values(), *en.values()])


@pytest.mark.parametrize("locale", LOCALES)
def test_every_literal_key_is_translated(locale: str) -> None:
    missing = sorted(k for k in _used_keys() if k not in load_catalog(locale))
    assert missing == []
    assert len(_used_keys()) > 100


@pytest.mark.parametrize("locale", LOCALES)
def test_every_state_has_a_label(locale: str) -> None:
    catalog = load_catalog(locale)
    for status in JobStatus:
        assert f"job.status.{status.value}" in catalog
    for business in BusinessStatus:
        assert not business.value or f"job.business.{business.value}" in catalog
    for state in SourceState:
        assert f"source.state.{state.value}" in catalog


def test_chinese_uses_smc_wording() -> None:
    t = Translator("zh-CN")
    expected = {
        "nav.sources": "迁移源", "nav.jobs": "迁移任务", "action.create_job": "新建迁移任务",
        "action.start": "开始", "action.start_retry": "开始/重试", "action.pause": "暂停",
        "action.delete": "删除", "action.view_log": "查看日志", "jobs.col.result": "迁移结果",
        "job.status.Running": "运行中", "job.business.Preparing": "准备中",
        "job.business.Syncing": "同步中", "job.business.Processing": "处理中",
        "job.business.Cleaning": "清除中", "job.status.Stopped": "已暂停",
        "job.status.InError": "出错", "job.status.Finished": "已完成",
        "job.status.Ready": "未开始", "job.status.Waiting": "等待中",
        "job.status.Expired": "已过期", "source.state.Available": "在线",
        "source.state.InUse": "迁移中", "source.state.Unavailable": "不可用",
        "job.mode.create_only": "只创建", "job.mode.immediate": "立即执行",
        "job.mode.scheduled": "预约执行",
    }
    assert {k: t(k) for k in expected} == expected


def test_locale_choice_and_fallbacks() -> None:
    assert pick_locale(None) == "zh-CN"
    assert pick_locale("fr") == "zh-CN"
    assert pick_locale("en") == "en"
    assert Translator("en")("pager.summary", total=3, page=1, pages=1) == (
        "3 in total, page 1 of 1"
    )
    assert Translator("en")("no.such.key") == "no.such.key"
