"""The language of the command's words (help, messages, the batch summary), chosen once when the
command starts: `DIGITIZE_LANG` (vi, en), else the locale as POSIX orders it (`LC_ALL`, then
`LC_MESSAGES`, then `LANG`: vi_VN.UTF-8 is Vietnamese), else English. English by default, unlike
the site: scripts and logs that read the command's output keep the words they were written for.

The words come from the site's catalogues (digitize.core.i18n). Typer reads every help text when
the commands are defined, so the language is known before: at the import of this module."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from digitize.core.i18n import LANGUAGES, N_, Reason, Text

ENGLISH = "en"
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # the first one set decides, as in POSIX


def _code(value: str) -> str | None:
    """The catalogue's language of a setting or a locale name ('vi', 'vi_VN.UTF-8', 'vi-VN'), if any."""
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def chosen(environ: Mapping[str, str] = os.environ) -> str:
    """The command's language from the environment (see the module's text)."""
    if environ.get("DIGITIZE_LANG", "").strip():
        return _code(environ["DIGITIZE_LANG"]) or ENGLISH
    for name in LOCALE_VARIABLES:
        if environ.get(name):
            return _code(environ[name]) or ENGLISH
    return ENGLISH


LANGUAGE = chosen()


def _(message: str, **values: object) -> str:
    """``message`` (English, with ``{name}`` placeholders filled from ``values``) in the command's
    language; pybabel extracts it into the catalogues."""
    return N_(message, **values).in_language(LANGUAGE)


def said(words: Text | Reason) -> str:
    """A translatable text or reason of the library (an error's ``words``) in the command's language."""
    return words.in_language(LANGUAGE)


Command = TypeVar("Command", bound=Callable)


def described(help_text: str) -> Callable[[Command], Command]:
    """The command's help, as Typer shows it (it reads the function's docstring): marked with ``_``
    so that it is in the catalogues and in the command's language."""
    def describe(command: Command) -> Command:
        command.__doc__ = help_text
        return command
    return describe
