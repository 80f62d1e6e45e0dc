"""The Jinja2 templates of the public site and the dashboard (``templates/``), with the interface
words from the gettext catalogues of ``locale/`` (domain ``digitize``), read by
``digitize.core.i18n`` (which every layer shares)."""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

# The catalogues' names, here too for the pages' callers.
from digitize.access import assets
from digitize.core.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALE, language, translations

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"


def other_language(lang: str) -> str:
    """The language the page's switch offers: English from Vietnamese, Vietnamese from any other."""
    return "en" if language(lang) == DEFAULT_LANGUAGE else DEFAULT_LANGUAGE


def absolute(url: str) -> str:
    """``url`` itself if it is an absolute http(s) URL; anything else (``javascript:``, relative) is refused."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return url


def link(url: str, lang: str, **parameters: str | int | None) -> str:
    """``url`` with ``parameters`` (None left out) and, outside Vietnamese, ``lang`` added to its query."""
    query = [(name, str(value)) for name, value in parameters.items() if value is not None]
    if lang != DEFAULT_LANGUAGE:
        query.append(("lang", lang))
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


@functools.cache
def environment(lang: str) -> Environment:
    """The templates in ``lang``: autoescaped (HTML and XML), undefined names an error, the
    gettext functions and ``{% trans %}`` from ``lang``'s catalogue (variables escaped in them)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(("html", "xml")),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["url"] = absolute
    env.globals.update(lang=lang, default_lang=DEFAULT_LANGUAGE, static=assets.url,
                       link=lambda url, **parameters: absolute(link(url, lang, **parameters)))
    return env


def render(template: str, lang: str, **context: object) -> str:
    """``template`` rendered in ``lang`` (Vietnamese when it has no catalogue) with ``context``."""
    return environment(language(lang)).get_template(template).render(**context)
