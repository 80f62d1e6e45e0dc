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

from digitize.labels import CATEGORY_LABELS

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


def item_page(context: Context, item: ItemView, page: int | None = None) -> str:
    """An item: its title, the PDF/A and IIIF manifest links, the viewer opened at page number
    ``page`` (the thumbnails link to ``?page=N#viewer``; ``data-canvas`` is the page's position in
    ``item.pages``, from 1, as in the manifest), the page thumbnails, and its description and
    rights. A restricted item shows the notice in place of the viewer, the thumbnails and the
    links."""
    t, lang = _labels(context.lang), _lang(context.lang)
    if item.restricted is not None and item.restricted not in RESTRICTIONS:
        raise ValueError(f"unknown restriction {item.restricted!r}: one of {', '.join(RESTRICTIONS)}")
    numbers = [number for number, _, _ in item.pages]
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
        if item.manifest_url:
            parts.append(f'<section class="reader" aria-label="{t["viewer"]}"><div id="viewer" class="viewer" '
                         f'data-manifest="{_href(item.manifest_url)}" data-lang="{lang}" '
                         f'data-canvas="{numbers.index(start) + 1 if numbers else 1}">'
                         f'<p class="viewer-fallback">{t["viewer_fallback"]}</p></div></section>')
            scripts = (f"{context.base}/static/mirador/mirador.min.js", f"{context.base}/static/viewer.js")
        if item.pages:
            parts.append(_strip(item, start, t, lang))
    fields = "".join(_field(key, values, t) for key, values in item.fields)
    parts.append(f'<section class="description"><h2>{t["description"]}</h2><dl class="fields">{fields}</dl>'
                 f'<h2>{t["rights_heading"]}</h2><p class="rights" id="rights">{escape(item.rights)}</p></section>')
    return _document(context, escape(item.title), "".join(parts), scripts=scripts)


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
            f'{t["site_name"]}</a>\n<nav class="account" aria-label="{t["account"]}">'
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


def _strip(item: ItemView, start: int, t: dict[str, str], lang: str) -> str:
    thumbnails = "".join(
        f'<li><a href="{_href(_link(item.item_url, lang, page=number))}#viewer"'
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
