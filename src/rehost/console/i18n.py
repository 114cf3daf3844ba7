"""Console message catalogues (zh-CN default, en) and the per-request translator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

LOCALES: Final = ("zh-CN", "en")
DEFAULT_LOCALE: Final = "zh-CN"
LANG_COOKIE: Final = "rehost_lang"
TZ_COOKIE: Final = "rehost_tz"
DEFAULT_ZONE: Final = "UTC"
_CATALOG_DIR: Final = Path(__file__).parent / "i18n"


@cache
def load_catalog(locale: str) -> dict[str, str]:
    """Read one catalogue; keys are flat dotted names."""
    data = json.loads((_CATALOG_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"catalogue {locale} must be a flat object of strings")
    return {str(k): v for k, v in data.items()}


def pick_locale(cookie_value: str | None) -> str:
    """Return the cookie's locale when known, else the default (zh-CN)."""
    return cookie_value if cookie_value in LOCALES else DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Translator:
    """Looks up messages for one locale, falling back to English, then to the key.

    It also carries the person's time zone (an IANA name), in which the pages show times.
    """

    locale: str
    zone: str = DEFAULT_ZONE

    def __call__(self, key: str, **params: object) -> str:
        """Translate ``key`` and fill ``{name}`` placeholders from ``params``."""
        text = load_catalog(self.locale).get(key)
        if text is None:
            text = load_catalog("en").get(key, key)
        return text.format_map(params) if params else text

    def has(self, key: str) -> bool:
        """Tell whether the catalogue (or English) knows ``key``."""
        return key in load_catalog(self.locale) or key in load_catalog("en")

    @property
    def html_lang(self) -> str:
        """Value for the ``lang`` attribute of the page."""
        return "zh-CN" if self.locale == "zh-CN" else "en"
