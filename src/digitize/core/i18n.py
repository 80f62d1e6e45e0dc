"""Words for people, in Vietnamese and English: the gettext catalogues (domain ``digitize``) and
texts that keep their message id and values until someone reads them in a language.

The catalogues hold the words of the public site and the dashboard (Jinja templates, through
digitize.access.pages) and of the library's own messages: an operator's reason marked with
``N_("the file is empty ({size} bytes)", size=0)`` is a Text, read in English where the code
writes it (``str(text)``) and in any catalogue's language with ``text.in_language("vi")``. A
catalogue is read from its compiled .mo, or compiled in memory from its .po when the .mo is
missing or older (a checkout or a wheel without the setup step). A language is one more
``locale/<lang>/LC_MESSAGES/digitize.po``.

Two kinds of message: the library's reasons (``N_``, ``{name}`` placeholders, Python's format),
and words shared with the templates (``translator(lang).gettext``, ``%(name)s`` placeholders as
Jinja's newstyle gettext fills them), such as the quota report's headers and the dashboard's."""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

from babel.support import Translations
from pydantic import BaseModel

# The catalogues live beside the templates, which hold most of their words; they are package data
# read by path, so this module needs nothing from digitize.access.
LOCALE = Path(__file__).resolve().parent.parent / "access" / "locale"
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
    from babel.messages.mofile import write_mo  # only where setup did not compile: not at every command's start
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, locale=language(lang), domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


class Text(BaseModel):
    """A translatable text: its message id (the English words, with ``{name}`` placeholders) and
    the values of its placeholders (a value may be a Text itself, read in the same language)."""

    msgid: str
    params: dict[str, Text | str | int | float] = {}

    def __str__(self) -> str:
        return self._filled(self.msgid, None)

    def in_language(self, lang: str) -> str:
        """The text in ``lang``'s catalogue (English words where it has none for it)."""
        if not self.msgid:  # gettext("") is the catalogue's header
            return ""
        try:
            return self._filled(translations(lang).gettext(self.msgid), lang)
        except (KeyError, IndexError, ValueError):  # a translation with a wrong placeholder
            return str(self)

    def _filled(self, words: str, lang: str | None) -> str:
        if not self.params:
            return words
        return words.format(**{name: (str(value) if lang is None else value.in_language(lang))
                               if isinstance(value, Text) else value for name, value in self.params.items()})


def N_(msgid: str, **params: object) -> Text:
    """Mark ``msgid`` for the catalogues (pybabel extracts ``N_``) and keep its values: a Text,
    translated only when it is read. Values other than numbers and Texts are kept as their text."""
    return Text(msgid=msgid, params={name: value if isinstance(value, (int, float, Text)) else str(value)
                                     for name, value in params.items()})


def as_text(words: str | Text) -> Text:
    """``words`` as a Text: plain English words stay English in every language."""
    return words if isinstance(words, Text) else Text(msgid=words)


class Reason(BaseModel):
    """Why something cannot be used, in parts: what is wrong, where (a file or field, never
    translated) and what to do."""

    what: Text
    where: str | None = None
    todo: Text | None = None

    def __str__(self) -> str:
        return self.in_language(None)

    def in_language(self, lang: str | None) -> str:
        """"where: what. To do", in ``lang`` (None: English, as the code writes it)."""
        what, todo = ((str(self.what), self.todo and str(self.todo)) if lang is None else
                      (self.what.in_language(lang), self.todo and self.todo.in_language(lang)))
        said = f"{what}. {todo[0].upper()}{todo[1:]}" if todo else what
        return f"{self.where}: {said}" if self.where else said

    def without_where(self) -> Reason:
        return self.model_copy(update={"where": None})


def bilingual(text: Text | str, separator: str = " · ") -> str:
    """``text`` in Vietnamese, then in English (once, where both are the same): for places every
    reader shares, such as the Prefect UI."""
    text = as_text(text)
    vietnamese, english = text.in_language(DEFAULT_LANGUAGE), text.in_language("en")
    return english if vietnamese == english else f"{vietnamese}{separator}{english}"


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
