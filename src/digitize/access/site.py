"""The public reading site's HTML: pure functions from small views to pages, Vietnamese by default,
English on request (?lang=en). The web layer gathers the data and calls them; nothing here reads
the ledger or the store.

Every page is one document with the stylesheet ``{base}/static/site.css`` and no inline script or
style (the site's Content-Security-Policy forbids both): the item page loads Mirador and
``{base}/static/viewer.js``, which reads what to show from the ``data-`` attributes of
``<div id="viewer">``. Every text put into a page is escaped, and every URL given by the caller
must be absolute (http or https, under the public base URL ``base``, which has no trailing
slash). Links within the site keep the language (``lang=en``; Vietnamese needs none).

The not-found page depends only on the language and the visitor, never on what was asked for: it
is the same bytes for a missing item and for a secret one."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qsl, quote, urlencode

from digitize.core.labels import CATEGORY_LABELS

LABELS = {
    "vi": {
        "site_name": "Thư viện số", "switch": "English", "skip": "Bỏ qua, đến nội dung",
        "sign_in": "Đăng nhập", "signed_in_as": "Đã đăng nhập:", "sign_out": "Đăng xuất",
        "account": "Ngôn ngữ và tài khoản",
        "footer": "Thư viện số của các thư viện tỉnh. Quyền sử dụng được ghi ở từng tài liệu.",
        "libraries": "Các thư viện", "no_libraries": "Chưa có thư viện nào.", "province": "Tỉnh",
        "all": "Tất cả", "category": "Loại tài liệu", "items_one": "{count} tài liệu",
        "items_many": "{count} tài liệu", "pages_one": "{count} trang", "pages_many": "{count} trang",
        "no_items": "Không có tài liệu nào.", "paging": "Phân trang", "page_of": "Trang {page} / {pages}",
        "previous": "‹ Trang trước", "next": "Trang sau ›",
        "back": "Về bộ sưu tập của thư viện", "download_pdf": "Tải PDF/A", "manifest": "IIIF manifest",
        "viewer": "Xem tài liệu", "viewer_fallback": "Trình xem cần JavaScript. Bạn vẫn có thể tải bản PDF/A.",
        "page_list": "Các trang", "page_number": "Trang {number}", "description": "Thông tin mô tả",
        "rights_heading": "Quyền sử dụng",
        "reading_room": "Tài liệu này chỉ được đọc tại phòng đọc của thư viện.",
        "staff": "Tài liệu này chỉ dành cho cán bộ thư viện.",
        "sign_in_title": "Đăng nhập cho cán bộ thư viện", "name": "Tên đăng nhập", "password": "Mật khẩu",
        "wrong": "Sai tên hoặc mật khẩu.",
        "locked": "Đăng nhập sai quá nhiều lần: tài khoản tạm bị khóa. Hãy thử lại sau.",
        "not_found_title": "Không tìm thấy",
        "not_found": "Không có trang nào ở địa chỉ này, hoặc tài liệu không được công bố.",
        "refused_title": "Không được phép", "refused": "Bạn không có quyền xem trang này.",
        "home_link": "Về trang chủ",
        "title": "Nhan đề", "creator": "Tác giả", "date": "Thời gian xuất bản", "publisher": "Nhà xuất bản",
        "language": "Ngôn ngữ", "subject": "Chủ đề", "coverage": "Địa danh, phạm vi", "type": "Loại hình",
        "format": "Định dạng, số trang", "identifier": "Ký hiệu xếp giá, mã định danh",
        "rights": "Quyền sử dụng", "library": "Thư viện lưu giữ",
        "item_search": "Tìm trong tài liệu này", "item_search_button": "Tìm",
        "item_hits_heading": "Các trang có \u201c{query}\u201d", "item_hit_page": "Trang {number} ({hits})",
        "item_hits_one": "{count} kết quả", "item_hits_many": "{count} kết quả",
        "item_no_hits": "Không tìm thấy \u201c{query}\u201d trong tài liệu này.", "item_page_image": "ảnh trang",
        "search": "Tìm kiếm", "search_site": "Tìm trong thư viện số", "search_button": "Tìm",
        "search_hint": "Gõ có dấu hoặc không dấu (\u201chai duong\u201d tìm được \u201cHải Dương\u201d); "
                       "đặt cụm từ trong dấu ngoặc kép.",
        "any_library": "Mọi thư viện", "any_category": "Mọi loại tài liệu", "any_language": "Mọi ngôn ngữ",
        "year_from": "Từ năm", "year_to": "Đến năm", "filters": "Lọc kết quả",
        "results_one": "{count} kết quả", "results_many": "{count} kết quả",
        "more_results": "Hơn {count} kết quả (hãy thêm từ hoặc bộ lọc để thu hẹp)",
        "no_results": "Không tìm thấy tài liệu nào chứa các từ này.", "ask": "Nhập từ cần tìm.",
        "hit_page": "Trang {number}", "pages_matched_one": "khớp ở {count} trang",
        "pages_matched_many": "khớp ở {count} trang", "in_record": "khớp ở thông tin mô tả",
        "remove_filter": "bỏ lọc",
    },
    "en": {
        "site_name": "Digital library", "switch": "Tiếng Việt", "skip": "Skip to content",
        "sign_in": "Sign in", "signed_in_as": "Signed in as", "sign_out": "Sign out",
        "account": "Language and account",
        "footer": "The digital library of the provincial libraries. The rights of use are stated on each item.",
        "libraries": "Libraries", "no_libraries": "No libraries yet.", "province": "Province",
        "all": "All", "category": "Category", "items_one": "{count} item", "items_many": "{count} items",
        "pages_one": "{count} page", "pages_many": "{count} pages",
        "no_items": "No items.", "paging": "Pages", "page_of": "Page {page} of {pages}",
        "previous": "‹ Previous", "next": "Next ›",
        "back": "Back to the library's collection", "download_pdf": "Download PDF/A", "manifest": "IIIF manifest",
        "viewer": "Viewer", "viewer_fallback": "The viewer needs JavaScript. You can still download the PDF/A.",
        "page_list": "Pages", "page_number": "Page {number}", "description": "Description",
        "rights_heading": "Rights",
        "reading_room": "This item can be read only in the library's reading room.",
        "staff": "This item is available to library staff only.",
        "sign_in_title": "Staff sign-in", "name": "User name", "password": "Password",
        "wrong": "Wrong name or password.",
        "locked": "Too many failed attempts: signing in is locked for a while. Try again later.",
        "not_found_title": "Not found",
        "not_found": "There is no page at this address, or the item is not published.",
        "refused_title": "Not allowed", "refused": "You may not see this page.",
        "home_link": "Go to the home page",
        "title": "Title", "creator": "Creator", "date": "Date", "publisher": "Publisher",
        "language": "Language", "subject": "Subject", "coverage": "Place, coverage", "type": "Type",
        "format": "Format, extent", "identifier": "Call number, identifier",
        "rights": "Rights", "library": "Holding library",
        "item_search": "Search this item", "item_search_button": "Search",
        "item_hits_heading": "Pages with \u201c{query}\u201d", "item_hit_page": "Page {number} ({hits})",
        "item_hits_one": "{count} hit", "item_hits_many": "{count} hits",
        "item_no_hits": "\u201c{query}\u201d is not found in this item.", "item_page_image": "page image",
        "search": "Search", "search_site": "Search the digital library", "search_button": "Search",
        "search_hint": "Type with or without diacritics (\u201chai duong\u201d finds \u201cHải Dương\u201d); "
                       "put phrases in double quotes.",
        "any_library": "All libraries", "any_category": "All categories", "any_language": "All languages",
        "year_from": "From year", "year_to": "To year", "filters": "Refine",
        "results_one": "{count} result", "results_many": "{count} results",
        "more_results": "More than {count} results (add words or filters to narrow them)",
        "no_results": "No item holds these words.", "ask": "Type the words to look for.",
        "hit_page": "Page {number}", "pages_matched_one": "found on {count} page",
        "pages_matched_many": "found on {count} pages", "in_record": "found in the description",
        "remove_filter": "remove filter",
    },
}
FIELDS = ("title", "creator", "date", "publisher", "language", "subject", "coverage", "type", "format",
          "identifier", "rights", "library")
"""The label keys of ``ItemView.fields``: the Dublin Core elements, and the holding library."""
RESTRICTIONS = ("reading_room", "staff")
"""Where a restricted item can be read: ``ItemView.restricted``."""
SIGN_IN_ERRORS = ("wrong", "locked")
"""The errors of the sign-in page."""
MAX_SITEMAP_URLS = 50_000
CURRENT = ' aria-current="page"'


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


@dataclass(frozen=True)
class ItemSearch:
    """A search inside the item shown (the item page's ``?q=``): the query as typed and the pages
    with hits, as (page number, hits on it, the page's image URL) in page order."""

    query: str
    pages: list[tuple[int, int, str]] = field(default_factory=list)


SEARCH_FILTERS = ("library", "category", "language", "from", "to")
"""The search page's filter parameters (``SearchView.filters``): the first three are facets."""


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
    t, lang = _labels(context.lang), _lang(context.lang)
    cards = []
    for library in libraries:
        counts = "".join(
            f'<li><a href="{_href(_link(library.url, lang, category=code))}">{escape(_category(code, lang))}'
            f' <span class="count">{count}</span></a></li>'
            for code, count in _ordered(library.counts))
        cards.append(f'<li class="library"><h2><a href="{_href(_link(library.url, lang))}">'
                      f'{escape(library.name)}</a></h2>'
                      f'<p class="province">{t["province"]}: {escape(library.province)}</p>'
                      f'<ul class="counts">{counts}</ul></li>')
    listing = (f'<ul class="libraries">{"".join(cards)}</ul>' if cards
               else f'<p class="empty">{t["no_libraries"]}</p>')
    return _document(context, t["libraries"], f'<h1>{t["libraries"]}</h1>{listing}')


def library_page(context: Context, library: LibrarySummary, items: list[ItemSummary], category: str | None,
                 page: int, pages: int, total: int) -> str:
    """A library's collection: filter links per category with counts, one page of its items
    (``page`` of ``pages``, ``total`` items in all under ``category``) and links to the previous
    and next pages, which keep the category. The page's query parameters are ``category`` and
    ``page``."""
    t, lang = _labels(context.lang), _lang(context.lang)
    filters = [(None, t["all"], sum(library.counts.values()))]
    filters += [(code, escape(_category(code, lang)), count) for code, count in _ordered(library.counts)]
    filter_links = "".join(
        f'<li><a href="{_href(_link(library.url, lang, category=code))}"'
        f'{CURRENT if code == category else ""}>{label} <span class="count">{count}</span></a></li>'
        for code, label, count in filters)
    heading = escape(library.name)
    if category is not None:
        heading += f": {escape(_category(category, lang))}"
    entries = "".join(_item_entry(item, t, lang) for item in items)
    listing = f'<ol class="items">{entries}</ol>' if entries else f'<p class="empty">{t["no_items"]}</p>'
    body = (f'<h1>{heading}</h1><p class="province">{t["province"]}: {escape(library.province)}</p>'
            f'<nav class="filters" aria-label="{t["category"]}"><ul>{filter_links}</ul></nav>'
            f'<p class="total">{_count(t, "items", total)}</p>{listing}'
            f'{_paging(library.url, category, page, pages, t, lang)}')
    return _document(context, escape(library.name), body)


def item_page(context: Context, item: ItemView, page: int | None = None, search: ItemSearch | None = None) -> str:
    """An item: its title, the PDF/A and IIIF manifest links, the form searching inside it (a GET
    of ``q`` to the item page), the viewer opened at page number ``page`` (the thumbnails link to
    ``?page=N#viewer``; ``data-canvas`` is the page's position in ``item.pages``, from 1, as in the
    manifest), the page thumbnails, and its description and rights. With ``search`` (a query
    given), the pages with hits are listed (each to ``?q=...&page=N#viewer`` and to its image:
    this works without JavaScript), the viewer gets the query as ``data-query`` (viewer.js opens
    Mirador's search panel with it) and, without ``page``, opens at the first page with a hit. A
    restricted item shows the notice in place of the viewer, the search, the thumbnails and the
    links."""
    t, lang = _labels(context.lang), _lang(context.lang)
    if item.restricted is not None and item.restricted not in RESTRICTIONS:
        raise ValueError(f"unknown restriction {item.restricted!r}: one of {', '.join(RESTRICTIONS)}")
    numbers = [number for number, _, _ in item.pages]
    query = search.query.strip() if search else ""
    hit_pages = [number for number, _, _ in search.pages if number in numbers] if search and query else []
    if page not in numbers and hit_pages:
        page = hit_pages[0]
    start = page if page in numbers else (numbers[0] if numbers else 1)
    parts = []
    if item.library_url:
        parts.append(f'<p class="back"><a href="{_href(_link(item.library_url, lang))}">{t["back"]}</a></p>')
    parts.append(f"<h1>{escape(item.title)}</h1>")
    scripts: tuple[str, ...] = ()
    if item.restricted:
        parts.append(f'<p class="notice" id="restricted-notice">{t[item.restricted]}</p>')
    else:
        links = []
        if item.pdf_url:
            links.append(f'<a class="button" id="pdf-link" href="{_href(item.pdf_url)}" download>'
                         f'{t["download_pdf"]}</a>')
        if item.manifest_url:
            links.append(f'<a id="manifest-link" href="{_href(item.manifest_url)}">{t["manifest"]}</a>')
        if links:
            parts.append(f'<p class="actions">{"".join(links)}</p>')
        parts.append(_item_search_form(item, query, t, lang))
        if item.manifest_url:
            asked = f' data-query="{escape(query)}"' if query else ""
            parts.append(f'<section class="reader" aria-label="{t["viewer"]}"><div id="viewer" class="viewer" '
                         f'data-manifest="{_href(item.manifest_url)}" data-lang="{lang}" '
                         f'data-canvas="{numbers.index(start) + 1 if numbers else 1}"{asked}>'
                         f'<p class="viewer-fallback">{t["viewer_fallback"]}</p></div></section>')
            scripts = (f"{context.base}/static/mirador/mirador.min.js", f"{context.base}/static/viewer.js")
        if search and query:
            parts.append(_item_hits(item, search, query, t, lang))
        if item.pages:
            parts.append(_strip(item, start, t, lang, query))
    fields = "".join(_field(key, values, t) for key, values in item.fields)
    parts.append(f'<section class="description"><h2>{t["description"]}</h2><dl class="fields">{fields}</dl>'
                 f'<h2>{t["rights_heading"]}</h2><p class="rights" id="rights">{escape(item.rights)}</p></section>')
    return _document(context, escape(item.title), "".join(parts), scripts=scripts)


def search_page(context: Context, view: SearchView) -> str:
    """The search form (query, library, category, language, years), the count of results, the
    facets with their counts, one page of hits with their snippets (matched words in <mark>) and
    links to the previous and next pages; all of it plain HTML (no script)."""
    t, lang = _labels(context.lang), _lang(context.lang)
    asked = {"q": view.query, **view.filters}

    def narrowed(**changes: str | int | None) -> str:
        parameters = {**asked, **changes}
        return _link(view.url, lang, **{k: v for k, v in parameters.items() if v not in (None, "")})

    def options(name: str, everything: str, choices: list[tuple[str, str]]) -> str:
        chosen = view.filters.get(name, "")
        shown = [(code, label) for code, label in choices]
        if chosen and chosen not in dict(shown):
            shown.append((chosen, chosen))
        return (f'<option value="">{everything}</option>' + "".join(
            f'<option value="{escape(code)}"{" selected" if code == chosen else ""}>{escape(label)}</option>'
            for code, label in shown))

    languages = [(code, label) for code, label, _ in view.facets.get("language", [])]
    categories = [(code, _category(code, lang)) for code in CATEGORY_LABELS[lang]]
    form = (f'<form class="search-form" role="search" method="get" action="{_href(view.url)}">'
            f'<label for="q">{t["search_site"]}</label>'
            f'<div class="search-line"><input id="q" name="q" type="search" value="{escape(view.query)}" '
            f'maxlength="500" autocomplete="off"><button type="submit">{t["search_button"]}</button></div>'
            f'<p class="hint">{t["search_hint"]}</p>'
            f'<fieldset class="search-filters"><legend>{t["filters"]}</legend>'
            f'<label>{t["library"]} <select name="library">{options("library", t["any_library"], view.libraries)}'
            f'</select></label>'
            f'<label>{t["category"]} <select name="category">{options("category", t["any_category"], categories)}'
            f'</select></label>'
            f'<label>{t["language"]} <select name="language">{options("language", t["any_language"], languages)}'
            f'</select></label>'
            f'<label>{t["year_from"]} <input name="from" type="number" min="0" max="9999" '
            f'value="{escape(view.filters.get("from", ""))}"></label>'
            f'<label>{t["year_to"]} <input name="to" type="number" min="0" max="9999" '
            f'value="{escape(view.filters.get("to", ""))}"></label>'
            + (f'<input type="hidden" name="lang" value="{lang}">' if lang != "vi" else "") +
            '</fieldset></form>')
    if not view.query.strip():
        return _document(context, t["search"], f'<h1>{t["search"]}</h1>{form}<p class="empty">{t["ask"]}</p>')
    facets = []
    for name in ("library", "category", "language"):
        links = []
        for value, label, count in view.facets.get(name, []):
            chosen = view.filters.get(name) == value
            target = narrowed(**{name: None if chosen else value, "page": None})
            links.append(f'<li><a href="{_href(target)}"{CURRENT if chosen else ""}>{escape(label)} '
                         f'<span class="count">{count}</span>'
                         + (f' <span class="remove">({t["remove_filter"]})</span>' if chosen else "") + '</a></li>')
        if links:
            facets.append(f'<nav class="facet" aria-label="{t[name]}"><h2>{t[name]}</h2><ul>{"".join(links)}</ul></nav>')
    count = t["more_results"].format(count=view.total) if view.more else _count(t, "results", view.total)
    entries = "".join(_hit_entry(hit, t) for hit in view.hits)
    listing = f'<ol class="hits" start="{(view.page - 1) * view.page_size + 1}">{entries}</ol>' if entries else \
        f'<p class="empty">{t["no_results"]}</p>'
    paging = ""
    if view.pages > 1:
        previous = (f'<a rel="prev" id="previous-page" href="{_href(narrowed(page=view.page - 1 if view.page > 2 else None))}">'
                    f'{t["previous"]}</a>' if view.page > 1 else "")
        following = (f'<a rel="next" id="next-page" href="{_href(narrowed(page=view.page + 1))}">{t["next"]}</a>'
                     if view.page < view.pages else "")
        paging = (f'<nav class="paging" aria-label="{t["paging"]}">{previous}<span class="page-of">'
                  f'{t["page_of"].format(page=view.page, pages=view.pages)}</span>{following}</nav>')
    aside = f'<aside class="facets">{"".join(facets)}</aside>' if facets else ""
    body = (f'<h1>{t["search"]}</h1>{form}<p class="total" id="total">{count}</p>'
            f'<div class="results">{aside}<section class="hit-list">{listing}{paging}</section></div>')
    return _document(context, f'{escape(view.query)} · {t["search"]}', body)


def _hit_entry(hit: SearchHitView, t: dict[str, str]) -> str:
    thumbnail = (f'<img src="{_href(hit.thumbnail_url)}" alt="" loading="lazy">' if hit.thumbnail_url
                 else '<span class="no-thumbnail"></span>')
    where = [escape(hit.library)]
    if hit.page is None:
        where.append(t["in_record"])
    else:
        where.append(t["hit_page"].format(number=hit.page))
        if hit.pages_matched > 1:
            where.append(_count(t, "pages_matched", hit.pages_matched))
    snippet = "".join(f"<mark>{escape(text)}</mark>" if matched else escape(text) for text, matched in hit.snippet)
    return (f'<li class="hit"><a href="{_href(hit.url)}">{thumbnail}<span class="item-text">'
            f'<span class="item-title">{escape(hit.title)}</span>'
            f'<span class="item-details">{" · ".join(where)}</span></span></a>'
            f'<p class="snippet">{snippet}</p></li>')


def sign_in_page(context: Context, csrf: str, error: str | None, next_url: str) -> str:
    """The staff sign-in form: POSTs ``name``, ``password``, ``csrf`` and ``next`` to
    ``{base}/staff/login``. ``error`` is None or one of SIGN_IN_ERRORS (``wrong``: a wrong name or
    password; ``locked``: too many failed attempts)."""
    t, lang = _labels(context.lang), _lang(context.lang)
    if error is not None and error not in SIGN_IN_ERRORS:
        raise ValueError(f"unknown sign-in error {error!r}: one of {', '.join(SIGN_IN_ERRORS)}")
    message = "" if error is None else f'<p class="error" id="sign-in-error" role="alert">{t[error]}</p>'
    action = _link(f"{context.base}/staff/login", lang)
    body = (f'<h1>{t["sign_in_title"]}</h1>{message}'
            f'<form class="sign-in" method="post" action="{_href(action)}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="next" value="{escape(next_url)}">'
            f'<label for="name">{t["name"]}</label>'
            f'<input id="name" name="name" type="text" autocomplete="username" required>'
            f'<label for="password">{t["password"]}</label>'
            f'<input id="password" name="password" type="password" autocomplete="current-password" required>'
            f'<button type="submit">{t["sign_in"]}</button></form>')
    return _document(context, t["sign_in_title"], body, sign_in_link=False)


def not_found_page(context: Context) -> str:
    """The 404 page. It uses only the base URL, the language and the visitor of ``context``, never
    the path or query asked for, so it is the same for any missing or secret item."""
    t = _labels(context.lang)
    body = (f'<h1>{t["not_found_title"]}</h1><p>{t["not_found"]}</p>'
            f'<p><a href="{_href(_link(context.base + "/", _lang(context.lang)))}">{t["home_link"]}</a></p>')
    return _document(context, t["not_found_title"], body, here=False)


def refused_page(context: Context, message: str | None = None) -> str:
    """The 403 page, with ``message`` (escaped) or a plain refusal. Like the 404 page it does not
    name what was asked for."""
    t = _labels(context.lang)
    text = t["refused"] if message is None else escape(message)
    body = (f'<h1>{t["refused_title"]}</h1><p>{text}</p>'
            f'<p><a href="{_href(_link(context.base + "/", _lang(context.lang)))}">{t["home_link"]}</a></p>')
    return _document(context, t["refused_title"], body, here=False)


def sitemap(urls: list[str]) -> str:
    """A sitemaps.org sitemap of ``urls`` (at most 50,000: split a longer list over several
    sitemaps)."""
    if len(urls) > MAX_SITEMAP_URLS:
        raise ValueError(f"a sitemap holds at most {MAX_SITEMAP_URLS} URLs, not {len(urls)}")
    entries = "".join(f"<url><loc>{escape(_absolute(url))}</loc></url>\n" for url in urls)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</urlset>\n')


def switch_url(context: Context) -> str:
    """The page's own URL in the other language: its path and query with ``lang`` replaced."""
    other = "en" if _lang(context.lang) == "vi" else "vi"
    query = [(k, v) for k, v in parse_qsl(context.query, keep_blank_values=True) if k != "lang"]
    return f"{context.base}{_path(context.path)}?{urlencode(query + [('lang', other)])}"


def _document(context: Context, title: str, main: str, scripts: tuple[str, ...] = (), here: bool = True,
              sign_in_link: bool = True) -> str:
    """The page around ``main`` (already escaped). Without ``here`` nothing on it comes from the path
    or query: the language switch is a relative ``?lang=``, and the sign-in link has no ``next``."""
    lang = _lang(context.lang)
    t = _labels(lang)
    other = "en" if lang == "vi" else "vi"
    switch = switch_url(context) if here else f"?lang={other}"
    if context.user is not None:
        logout = _link(f"{context.base}/staff/logout", lang)
        account = (f'<span class="user">{t["signed_in_as"]} <strong>{escape(context.user)}</strong></span>'
                   f'<form class="sign-out" method="post" action="{_href(logout)}">'
                   f'<input type="hidden" name="csrf" value="{escape(context.csrf)}">'
                   f'<button type="submit">{t["sign_out"]}</button></form>')
    elif sign_in_link:
        next_url = None
        if here:
            next_url = _path(context.path) + (f"?{context.query}" if context.query else "")
        login = _link(f"{context.base}/staff/login", lang, next=next_url)
        account = f'<a id="sign-in-link" href="{_href(login)}">{t["sign_in"]}</a>'
    else:
        account = ""
    script_tags = "".join(f'<script src="{_href(src)}" defer></script>\n' for src in scripts)
    return (f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{title} · {t["site_name"]}</title>\n'
            f'<link rel="stylesheet" href="{_href(context.base + "/static/site.css")}">\n{script_tags}'
            f'</head>\n<body>\n<a class="skip" href="#content">{t["skip"]}</a>\n'
            f'<header class="site-header"><a class="site-name" href="{_href(_link(context.base + "/", lang))}">'
            f'{t["site_name"]}</a>\n<form class="site-search" role="search" method="get" '
            f'action="{_href(context.base + "/search")}"><input name="q" type="search" maxlength="500" '
            f'aria-label="{t["search_site"]}" placeholder="{t["search_site"]}">'
            + (f'<input type="hidden" name="lang" value="{lang}">' if lang != "vi" else "") +
            f'<button type="submit">{t["search_button"]}</button></form>\n'
            f'<nav class="account" aria-label="{t["account"]}">'
            f'<a id="language-switch" href="{escape(switch)}" hreflang="{other}" lang="{other}">{t["switch"]}</a>'
            f'{account}</nav></header>\n<main id="content" class="page">\n{main}\n</main>\n'
            f'<footer class="site-footer"><p>{t["footer"]}</p></footer>\n</body>\n</html>\n')


def _item_entry(item: ItemSummary, t: dict[str, str], lang: str) -> str:
    thumbnail = (f'<img src="{_href(item.thumbnail_url)}" alt="" loading="lazy">' if item.thumbnail_url
                 else '<span class="no-thumbnail"></span>')
    details = [escape(text) for text in (item.creator, item.date) if text]
    if item.pages:
        details.append(_count(t, "pages", item.pages))
    return (f'<li class="item"><a href="{_href(_link(item.url, lang))}">{thumbnail}'
            f'<span class="item-text"><span class="item-title">{escape(item.title)}</span>'
            f'<span class="item-details">{" · ".join(details)}</span></span></a></li>')


def _paging(url: str, category: str | None, page: int, pages: int, t: dict[str, str], lang: str) -> str:
    if pages <= 1:
        return ""
    previous = ""
    if page > 1:
        previous_url = _link(url, lang, category=category, page=page - 1 if page > 2 else None)
        previous = f'<a rel="prev" id="previous-page" href="{_href(previous_url)}">{t["previous"]}</a>'
    following = (f'<a rel="next" id="next-page" href="{_href(_link(url, lang, category=category, page=page + 1))}">'
                 f'{t["next"]}</a>' if page < pages else "")
    return (f'<nav class="paging" aria-label="{t["paging"]}">{previous}'
            f'<span class="page-of">{t["page_of"].format(page=page, pages=pages)}</span>{following}</nav>')


def _item_search_form(item: ItemView, query: str, t: dict[str, str], lang: str) -> str:
    """The item page's form searching inside the item: a GET of ``q`` to the item page."""
    return (f'<form class="search-form item-search" id="item-search" role="search" method="get" '
            f'action="{_href(item.item_url)}"><label for="q">{t["item_search"]}</label>'
            f'<div class="search-line"><input id="q" name="q" type="search" value="{escape(query)}" '
            f'maxlength="500" autocomplete="off"><button type="submit">{t["item_search_button"]}</button></div>'
            + (f'<input type="hidden" name="lang" value="{lang}">' if lang != "vi" else "") + '</form>')


def _item_hits(item: ItemView, search: ItemSearch, query: str, t: dict[str, str], lang: str) -> str:
    """The pages of the item with hits of ``query``: each opens the viewer there with the search
    shown, and its image opens without JavaScript."""
    shown = {number for number, _, _ in item.pages}
    entries = "".join(
        f'<li><a href="{_href(_link(item.item_url, lang, q=query, page=number))}#viewer">'
        f'{t["item_hit_page"].format(number=number, hits=_count(t, "item_hits", hits))}</a>'
        f' · <a class="page-image" href="{_href(image)}">{t["item_page_image"]}</a></li>'
        for number, hits, image in search.pages if number in shown)
    heading = t["item_hits_heading"].format(query=escape(query))
    listing = (f'<ol>{entries}</ol>' if entries else
               f'<p class="empty">{t["item_no_hits"].format(query=escape(query))}</p>')
    return f'<section class="item-hits" id="item-hits"><h2>{heading}</h2>{listing}</section>'


def _strip(item: ItemView, start: int, t: dict[str, str], lang: str, query: str = "") -> str:
    thumbnails = "".join(
        f'<li><a href="{_href(_link(item.item_url, lang, q=query or None, page=number))}#viewer"'
        f'{CURRENT if number == start else ""}>'
        f'<img src="{_href(thumbnail)}" alt="{t["page_number"].format(number=number)}" loading="lazy">'
        f'<span>{escape(label)}</span></a></li>'
        for number, label, thumbnail in item.pages)
    return f'<nav class="strip" aria-label="{t["page_list"]}"><ol>{thumbnails}</ol></nav>'


def _field(key: str, values: list[str], t: dict[str, str]) -> str:
    if key not in FIELDS:
        raise ValueError(f"unknown field {key!r}: one of {', '.join(FIELDS)}")
    shown = [value for value in values if value]
    if not shown:
        return ""
    return f'<dt>{t[key]}</dt>' + "".join(f"<dd>{escape(value)}</dd>" for value in shown)


def _count(t: dict[str, str], noun: str, count: int) -> str:
    return t[f"{noun}_one" if count == 1 else f"{noun}_many"].format(count=count)


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The categories with items, in the order of CATEGORY_LABELS, then any other code."""
    known = list(CATEGORY_LABELS["vi"])
    return sorted(((code, count) for code, count in counts.items() if count),
                  key=lambda pair: (known.index(pair[0]) if pair[0] in known else len(known), pair[0]))


def _category(code: str, lang: str) -> str:
    return CATEGORY_LABELS[lang].get(code, code)


def _lang(lang: str) -> str:
    return lang if lang in LABELS else "vi"


def _labels(lang: str) -> dict[str, str]:
    return {name: escape(label) for name, label in LABELS[_lang(lang)].items()}


def _path(path: str) -> str:
    return quote(path if path.startswith("/") else "/" + path, safe="/:@!$&'()*+,;=-._~")


def _link(url: str, lang: str, **parameters: str | int | None) -> str:
    """``url`` with ``parameters`` (None left out) and, in English, ``lang=en`` added to its query."""
    query = [(name, str(value)) for name, value in parameters.items() if value is not None]
    if lang != "vi":
        query.append(("lang", lang))
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"


def _absolute(url: str) -> str:
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return url


def _href(url: str) -> str:
    return escape(_absolute(url))
