"""The interface words in Vietnamese and English: the gettext catalogues (domain ``digitize``) kept
beside the templates in ``digitize/access/locale/``, read here so that every layer shares them: the
site and the dashboard (``digitize.access.pages``) and the files made below them (the quota
report). A catalogue is read from its compiled .mo, or compiled in memory from its .po when the .mo
is missing or older (a checkout or a wheel without the setup step)."""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

# Beside the templates, where pybabel and the translators find them (a path, not an import: core
# stays below access).
LOCALE = Path(__file__).parent.parent / "access" / "locale"
DOMAIN = "digitize"
DEFAULT_LANGUAGE = "vi"
LANGUAGES = tuple(sorted((po.parent.parent.name for po in LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po")),
                         key=lambda code: (code != DEFAULT_LANGUAGE, code)))
"""The languages with a catalogue, Vietnamese first."""


def language(lang: str) -> str:
    """``lang`` if it has a catalogue, else Vietnamese."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@functools.cache
def translations(lang: str) -> Translations:
    po = LOCALE / language(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return Translations(compiled, domain=DOMAIN)
    with po.open("rb") as source:
        catalog = read_po(source, locale=language(lang), domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


class Words:
    """One language's words for Python code, given as the templates' gettext gives them (Jinja's
    newstyle gettext): ``%(name)s`` filled from the keywords and ``%%`` a single ``%``, so one
    msgid serves a page and a file alike."""

    def __init__(self, lang: str):
        self.lang = language(lang)
        self._catalogue = translations(self.lang)

    def gettext(self, message: str, **values: object) -> str:
        return self._catalogue.gettext(message) % values

    def pgettext(self, context: str, message: str, **values: object) -> str:
        return self._catalogue.pgettext(context, message) % values


def translator(lang: str) -> Words:
    """The words of ``lang`` (Vietnamese when it has no catalogue): ``translator("en").gettext("Library")``."""
    return Words(lang)
