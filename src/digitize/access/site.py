"""The public reading site's HTML: pure functions from small views to pages (the templates of
``templates/``, the words of ``locale/``, see ``pages``), Vietnamese by default, English on request
(?lang=en). The web layer gathers the data and calls them; nothing here reads the ledger or the
store.

Every page is one document with the stylesheet ``{base}/static/site.css`` and no inline script or
style (the site's Content-Security-Policy forbids both), every static file by its versioned name
(``assets.url``): the item page alone loads Mirador, ``viewer-words.js`` and ``viewer.js``, which reads what to show from the ``data-`` attributes of
``<div id="viewer">``. Every text put into a page is escaped, and every URL given by the caller
must be absolute (http or https, under the public base URL ``base``, which has no trailing
slash). Links within the site keep the language (``lang=en``; Vietnamese needs none).

The not-found page depends only on the language and the visitor, never on what was asked for: it
is the same bytes for a missing item and for a secret one."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode

from digitize.access import assets, pages
from digitize.core.labels import CATEGORY_LABELS

FIELDS = ("title", "creator", "date", "publisher", "place", "language", "subject", "coverage", "type", "format",
          "extent", "identifier", "rights", "library", "collection")
"""The label keys of ``ItemView.fields``: the Dublin Core elements, the holding library and the
collection of the digitization plan the item counts in (its category, not a document type)."""
RECORD_TEXT = ("creator", "publisher", "place", "subject", "coverage", "extent", "library")
"""The fields whose values are the catalogue's own words, written in Vietnamese whatever the
interface's language (marked ``lang="vi"`` on the English pages); the title is in the item's language."""
RESTRICTIONS = ("reading_room", "staff")
"""Where a restricted item can be read: ``ItemView.restricted``."""
SIGN_IN_ERRORS = ("wrong", "locked")
"""The errors of the sign-in page."""
MAX_SITEMAP_URLS = 50_000


@dataclass(frozen=True)
class Context:
    """What every page needs of the request it answers. ``path`` is the page's path under ``base``
    as decoded (``/items/HD-DC-0001``), ``query`` its query string as sent (without ``?``): the
    language switch and the sign-in link go back to them. ``user`` is the signed-in staff member's
    name, ``csrf`` the token of the sign-out form."""

    base: str
    lang: str = "vi"
    path: str = "/"
    query: str = ""
    user: str | None = None
    csrf: str = ""


@dataclass(frozen=True)
class LibrarySummary:
    """A library as listed: ``counts`` holds the number of items it shows per category code
    (``dia_chi``, ``rare``, ...); ``url`` is its collection page."""

    code: str
    name: str
    province: str
    url: str
    counts: dict[str, int] = field(default_factory=dict)
    province_name: str = ""  # the province in words (its plan's name), else its code is shown
    tier: str = ""  # provincial, district, ... (digitize.core.models.TIERS)


@dataclass(frozen=True)
class ItemSummary:
    """An item in a collection's list: ``thumbnail_url`` is its first page's thumbnail, ``pages``
    its number of pages."""

    title: str
    url: str
    thumbnail_url: str | None = None
    creator: str = ""
    date: str = ""
    pages: int = 0
    at_library: bool = False  # a restricted item: read at the library (a badge)
    title_lang: str = "vi"  # the language tag of the title (the item's language)


@dataclass(frozen=True)
class ReaderTranscription:
    """A transcribed Hán-Nôm page on the item page: its image and its columns in reading order,
    each as (characters, phiên âm)."""

    page: int
    image_url: str
    columns: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ReadingRoom:
    """Where a restricted item is read, as its library declares it (each part may be empty)."""

    name: str = ""
    address: str = ""
    hours: str = ""


@dataclass(frozen=True)
class ItemView:
    """What the item page shows. ``fields`` are (label key of FIELDS, values) in the order shown
    (empty values and fields without a value are left out);
    ``pages`` are (number from 1, label, thumbnail URL). ``restricted`` (one of RESTRICTIONS) says
    the visitor may not read the item here: the page shows the description and a notice instead
    of the viewer, the page thumbnails and the PDF/A. ``library_url`` is the collection page the
    item belongs to."""

    title: str
    fields: list[tuple[str, list[str]]]
    rights: str
    item_url: str
    pdf_url: str | None = None
    manifest_url: str | None = None
    pages: list[tuple[int, str, str]] = field(default_factory=list)
    restricted: str | None = None
    library_url: str | None = None
    transcription: ReaderTranscription | None = None  # a transcribed Hán-Nôm page, shown beside its image
    reading_room: ReadingRoom | None = None  # where a restricted item's record says it is read
    title_lang: str = "vi"  # the language tag of the title (the item's language)
    licence: tuple[str, str] | None = None  # the rights statement or licence: (its name in words, its URI)
    citation: Citation | None = None  # what the "cite this" box is made of
    page_texts: dict[int, str] = field(default_factory=dict)  # page number: its plain text's URL


@dataclass(frozen=True)
class Citation:
    """The parts of an item's citation (the library's form: creator. title. year. library, call
    number. the permalink of the page shown)."""

    title: str
    creator: str = ""
    year: str = ""
    library: str = ""
    call_number: str = ""


@dataclass(frozen=True)
class ItemSearch:
    """A search inside the item shown (the item page's ``?q=``): the query as typed and the pages
    with hits, as (page number, hits on it, the page's image URL) in page order."""

    query: str
    pages: list[tuple[int, int, str]] = field(default_factory=list)


SEARCH_FILTERS = ("library", "category", "language", "from", "to", "access")
"""The search page's filter parameters (``SearchView.filters``): the first three are facets;
``access`` is one of SEARCH_ACCESS."""
SEARCH_ACCESS = ("online", "library")
"""The access filter: items read online (open), or read at the library (restricted)."""


@dataclass(frozen=True)
class SearchHitView:
    """One item found: ``url`` opens it at ``page`` (None: only its description matched) with the
    query's words highlighted; ``snippet`` is (text, matched) parts, unescaped."""

    title: str
    url: str
    library: str
    page: int | None
    pages_matched: int
    snippet: list[tuple[str, bool]]
    thumbnail_url: str | None = None
    at_library: bool = False  # a restricted item: read at the library (a badge)
    creator: str = ""
    date: str = ""
    title_lang: str = "vi"


@dataclass(frozen=True)
class SearchView:
    """The search page: the query, the filters as given (SEARCH_FILTERS, missing when not set), one
    page of hits of ``total`` (a lower bound when ``more``), and the facets as (value, label,
    items) per facet name, each linking to the search narrowed to it."""

    url: str  # the search page's own URL, without parameters
    query: str
    filters: dict[str, str]
    hits: list[SearchHitView]
    total: int
    more: bool
    page: int
    pages: int
    facets: dict[str, list[tuple[str, str, int]]]
    libraries: list[tuple[str, str]] = field(default_factory=list)  # (code, name) for the form
    page_size: int = 20


def home(context: Context, libraries: list[LibrarySummary]) -> str:
    """The home page: the libraries, each with its province and its items per category."""
    return _render("home.html", context, libraries=[(library, _ordered(library.counts)) for library in libraries])


def library_page(context: Context, library: LibrarySummary, items: list[ItemSummary], category: str | None,
                 page: int, pages: int, total: int) -> str:
    """A library's collection: filter links per category with counts, one page of its items
    (``page`` of ``pages``, ``total`` items in all under ``category``) and links to the previous
    and next pages, which keep the category. The page's query parameters are ``category`` and
    ``page``."""
    return _render("library.html", context, library=library, items=items, category=category, page=page,
                   pages=pages, total=total, counts=_ordered(library.counts),
                   everything=sum(library.counts.values()))


def item_page(context: Context, item: ItemView, page: int | None = None, search: ItemSearch | None = None) -> str:
    """An item: its title (``lang`` of its language where the interface's differs), its description
    (the catalogue's words marked ``lang="vi"`` on English pages), its rights and licence (named,
    linked), a citation and the permalink of the page shown (``?page=N``), that page's plain text, the PDF/A and IIIF manifest links, the form searching inside it (a GET
    of ``q`` to the item page), the viewer opened at page number ``page`` (the thumbnails link to
    ``?page=N#viewer``; ``data-canvas`` is the page's position in ``item.pages``, from 1, as in the
    manifest), the page thumbnails, and its description and rights. With ``search`` (a query
    given), the pages with hits are listed (each to ``?q=...&page=N#viewer`` and to its image:
    this works without JavaScript), the viewer gets the query as ``data-query`` (viewer.js opens
    Mirador's search panel with it) and, without ``page``, opens at the first page with a hit. A
    restricted item shows the notice in place of the viewer, the search, the thumbnails and the
    links."""
    if item.restricted is not None and item.restricted not in RESTRICTIONS:
        raise ValueError(f"unknown restriction {item.restricted!r}: one of {', '.join(RESTRICTIONS)}")
    for key, _ in item.fields:
        if key not in FIELDS:
            raise ValueError(f"unknown field {key!r}: one of {', '.join(FIELDS)}")
    numbers = [number for number, _, _ in item.pages]
    query = search.query.strip() if search else ""
    hits = [hit for hit in search.pages if hit[0] in numbers] if search and query else None
    if page not in numbers and hits:
        page = hits[0][0]
    start = page if page in numbers else (numbers[0] if numbers else 1)
    scripts: tuple[str, ...] = ()
    if item.manifest_url and not item.restricted:
        scripts = tuple(assets.url(context.base, name)
                        for name in ("mirador/mirador.min.js", "viewer-words.js", "viewer.js"))
    fields = [(key, shown, item.title_lang if key == "title" else "vi" if key in RECORD_TEXT else None)
              for key, values in item.fields if (shown := [value for value in values if value])]
    permalink = f"{item.item_url}?page={start}" if numbers and not item.restricted else item.item_url
    return _render("item.html", context, scripts=scripts, item=item, query=query, hits=hits, start=start,
                   canvas=numbers.index(start) + 1 if numbers else 1, fields=fields, permalink=permalink,
                   page_text=None if item.restricted else item.page_texts.get(start))


def search_page(context: Context, view: SearchView) -> str:
    """The search form (query, library, category, language, years), the count of results, the
    facets with their counts, one page of hits with their snippets (matched words in <mark>) and
    links to the previous and next pages; all of it plain HTML (no script)."""
    lang = pages.language(context.lang)
    asked = {"q": view.query, **view.filters}

    def narrowed(**changes: str | int | None) -> str:
        parameters = {**asked, **changes}
        return pages.link(view.url, lang, **{k: v for k, v in parameters.items() if v not in (None, "")})

    def choices(name: str, shown: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        chosen = view.filters.get(name, "")
        if chosen and chosen not in dict(shown):
            shown = [*shown, (chosen, chosen)]
        return shown

    facets = []
    for name in ("library", "category", "language"):
        links = []
        for value, label, count in view.facets.get(name, []):
            chosen = view.filters.get(name) == value
            links.append((label, count, chosen, narrowed(**{name: None if chosen else value, "page": None})))
        if links:
            facets.append((name, links))
    return _render(
        "search.html", context, view=view, asked=bool(view.query.strip()), facets=facets,
        choices={"library": choices("library", list(view.libraries)),
                 "category": choices("category", [(code, None) for code in CATEGORY_LABELS["vi"]]),
                 "language": choices("language", [(code, label) for code, label, _ in view.facets.get("language", [])])},
        previous=narrowed(page=view.page - 1 if view.page > 2 else None) if view.page > 1 else None,
        following=narrowed(page=view.page + 1) if view.page < view.pages else None)


def sign_in_page(context: Context, csrf: str, error: str | None, next_url: str) -> str:
    """The staff sign-in form: POSTs ``name``, ``password``, ``csrf`` and ``next`` to
    ``{base}/staff/login``. ``error`` is None or one of SIGN_IN_ERRORS (``wrong``: a wrong name or
    password; ``locked``: too many failed attempts)."""
    if error is not None and error not in SIGN_IN_ERRORS:
        raise ValueError(f"unknown sign-in error {error!r}: one of {', '.join(SIGN_IN_ERRORS)}")
    return _render("sign_in.html", context, sign_in_link=False, csrf=csrf, error=error, next_url=next_url)


def not_found_page(context: Context) -> str:
    """The 404 page. It uses only the base URL, the language and the visitor of ``context``, never
    the path or query asked for, so it is the same for any missing or secret item."""
    return _render("not_found.html", context, here=False)


def refused_page(context: Context, message: str | None = None) -> str:
    """The 403 page, with ``message`` (escaped) or a plain refusal. Like the 404 page it does not
    name what was asked for."""
    return _render("refused.html", context, here=False, message=message)


def sitemap(urls: list[str]) -> str:
    """A sitemaps.org sitemap of ``urls`` (at most 50,000: split a longer list over several
    sitemaps)."""
    if len(urls) > MAX_SITEMAP_URLS:
        raise ValueError(f"a sitemap holds at most {MAX_SITEMAP_URLS} URLs, not {len(urls)}")
    return pages.render("sitemap.xml", pages.DEFAULT_LANGUAGE, urls=urls)


def switch_url(context: Context) -> str:
    """The page's own URL in the other language: its path and query with ``lang`` replaced."""
    other = pages.other_language(context.lang)
    query = [(k, v) for k, v in parse_qsl(context.query, keep_blank_values=True) if k != "lang"]
    return f"{context.base}{_path(context.path)}?{urlencode(query + [('lang', other)])}"


def layout(context: Context, here: bool = True, sign_in_link: bool = True) -> dict[str, object]:
    """What the layout of ``base.html`` needs of ``context``, for a page rendered with ``pages.render``.
    Without ``here`` nothing on the page comes from the path or query: the language switch is a
    relative ``?lang=``, and the sign-in link has no ``next``."""
    lang = pages.language(context.lang)
    pages.absolute(context.base)
    other = pages.other_language(lang)
    sign_in = None
    if context.user is None and sign_in_link:
        next_url = _path(context.path) + (f"?{context.query}" if context.query else "") if here else None
        sign_in = pages.absolute(pages.link(f"{context.base}/staff/login", lang, next=next_url))
    return {"visit": context, "other": other, "switch": switch_url(context) if here else f"?lang={other}",
            "sign_in": sign_in, "scripts": ()}


def _render(template: str, context: Context, here: bool = True, sign_in_link: bool = True, **values: object) -> str:
    return pages.render(template, context.lang, **{**layout(context, here, sign_in_link), **values})


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The categories with items, in the order of CATEGORY_LABELS, then any other code."""
    known = list(CATEGORY_LABELS["vi"])
    return sorted(((code, count) for code, count in counts.items() if count),
                  key=lambda pair: (known.index(pair[0]) if pair[0] in known else len(known), pair[0]))


def _path(path: str) -> str:
    return quote(path if path.startswith("/") else "/" + path, safe="/:@!$&'()*+,;=-._~")
