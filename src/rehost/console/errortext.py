"""Domain error and event texts in the page's language, state names included.

The domain's Chinese messages name states and actions by their API values ("状态为 Running，
无法执行“pause”"); a Chinese page shows them through the catalogue (运行中, 暂停) instead.
"""

from __future__ import annotations

import re
from typing import Final

from rehost.console.i18n import Translator
from rehost.domain.errors import RehostError
from rehost.domain.states import BusinessStatus, JobAction, JobStatus, SourceState

_STATE_KEYS: Final = {
    **{s.value: f"job.status.{s.value}" for s in JobStatus},
    **{b.value: f"job.business.{b.value}" for b in BusinessStatus if b.value},
    **{s.value: f"source.state.{s.value}" for s in SourceState},
}
# longest first, so that "Unavailable" is not read as "Available"
_STATE_WORD: Final = re.compile(
    r"(?<![A-Za-z.])(" + "|".join(sorted(map(re.escape, _STATE_KEYS), key=len, reverse=True))
    + r")(?![A-Za-z.])")
_ACTION_WORD: Final = re.compile(r"“(" + "|".join(a.value for a in JobAction) + r")”")


def localize_states(text: str, t: Translator) -> str:
    """Replace API state and action names in a Chinese text by their catalogue labels."""
    if t.locale != "zh-CN":
        return text
    text = _STATE_WORD.sub(lambda m: t(_STATE_KEYS[m.group(1)]), text)
    return _ACTION_WORD.sub(lambda m: f"“{t('job.action.' + m.group(1))}”", text)


def error_text(exc: RehostError, t: Translator) -> str:
    """The error's message in the page's language only."""
    return localize_states(exc.localized(t.locale), t)


def pick_text(en: str, zh: str, t: Translator) -> str:
    """The text of the page's language: a Chinese page never falls back to the English one."""
    return localize_states(zh, t) if t.locale == "zh-CN" else en
