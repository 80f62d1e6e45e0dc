"""Searching inside one item: the answers of the IIIF Content Search API 1.0 (the version Mirador 4
reads), from the words and boxes of the item's ALTO pages.

A query means what it means in the collection's search (digitize.core.query, the one reading of a
query): every unquoted word must be on the page, anywhere; a quoted phrase's words side by side, in
order (across line ends, not across pages). On a page that matches, each place where units of the
query stand together (a word alone, a phrase, or a name typed as words "mac thien tich" printed
"Mạc Thiên Tích") is a hit, and each printed word of a hit is an annotation of its own that paints
the word's box on the page's canvas (``canvas#xywh=x,y,w,h``). The hits holding the most of the
query's units together come first (the name "Mạc Thiên Tích" before a lone "thiên"), exact ones
before the others (below), each in reading order. Words are compared
as the collection's search (digitize.search.index) cuts them: runs of letters and digits, punctuation
left out ("Dương," is found by "duong", "206/QĐ-TTg" by "qd ttg" or "QĐ-TTg"; a printed word of
punctuation alone is passed over). No two hits share a printed word.

Vietnamese matching:

- A query word without diacritics matches every accented form of its letters ("hai duong" finds
  "Hải Dương", "HẢI DƯƠNG", "Hai Duong"): both are folded (NFC, lower case, every diacritic
  removed, đ read as d).
- A query word with diacritics matches the same word exactly, whatever the case and wherever the
  tone mark stands (old and new placement: "hòa" and "hoà" are one word), and also the words of the
  same letters with other diacritics (OCR often loses or confuses them). Among hits of as many
  units, exact hits come first in the item's hit list, in reading order, then the others: a reader
  who typed the diacritics sees the words as written first, and still finds the ones the OCR misread. (Mirador 4
  lists the hits canvas by canvas, keeping this order within a canvas.)
- A word the diacritic correction changed (an ALTERNATIVE child in the ALTO, what Tesseract read)
  is matched exactly by its corrected text only (the correction is more often right than the OCR);
  its alternative readings are matched as folded ones.

Boxes are given in the pixels of the canvas (the page's access image): the ALTO positions are
scaled by the ratio of the canvas size to the ALTO Page WIDTH and HEIGHT (whatever its unit), and
rounded half up.

Pure library code: no web framework; from the rest of the package only the folding
(digitize.core.vietnamese.fold) and the query's reading (digitize.core.query), the ones the
collection search uses. The web layer reads the
item's ALTO pages and the canvas sizes (PageImage.image_width/image_height of its METS), gives the
canvas URLs (``PublicLinks.canvas``) and the request's URL, and serves what ``search_item``
returns as JSON; ``service`` is the block its IIIF manifest lists in ``service``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from lxml import etree

from digitize.core.query import Query, has_marks, matches, occurrences, parse, passages
from digitize.core.vietnamese import fold

PRESENTATION_2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"
SEARCH_CONTEXT = "http://iiif.io/api/search/1/context.json"
SEARCH_PROFILE = "http://iiif.io/api/search/1/search"
SEARCH_SERVICE_TYPE = "SearchService1"  # the type Presentation 3.0 gives a Content Search 1.0 service
START_PARAMETER = "start"  # the query parameter of a page of hits: the index of its first hit
HANDLED_PARAMETERS = ("q", "motivation", START_PARAMETER)  # the others are reported as ignored
CONTEXT_WORDS = 6  # words of the page shown before and after a hit
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
_RUN = re.compile(r"[^\W_]+")  # letters and digits


@dataclass(frozen=True)
class Word:
    """A word of a page as printed (NFC), with its box in the units of its ALTO (pixels of the
    page's access image for the pipeline's ALTO) and the other readings the ALTO keeps of it
    (ALTERNATIVE: what the OCR read before the diacritic correction)."""
    text: str
    hpos: float
    vpos: float
    width: float
    height: float
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Page:
    number: int
    size: tuple[float, float] | None  # the ALTO Page WIDTH and HEIGHT
    words: list[Word]


@dataclass(frozen=True)
class _Hit:
    page: _Page
    first: int  # index in page.words of the first word and of the last
    last: int
    indexes: tuple[int, ...]  # the words of the hit (punctuation alone between them left out)
    units: int = 1  # how many of the query's units stand together in it
    exact: bool = True  # its words typed with marks printed so


def _number(element, name: str) -> float:
    value = element.get(name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"an ALTO {etree.QName(element).localname} has no number as {name}: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"an ALTO {etree.QName(element).localname} has no number as {name}: {value!r}")
    return number


def _read(alto: bytes) -> tuple[tuple[float, float] | None, list[Word]]:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    try:
        root = etree.fromstring(alto, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the ALTO is not well-formed XML: {exc}") from None
    size = None
    page = next(root.iter("{*}Page"), None)
    if page is not None and page.get("WIDTH") and page.get("HEIGHT"):
        width, height = _number(page, "WIDTH"), _number(page, "HEIGHT")
        if width > 0 and height > 0:
            size = (width, height)
    found = []
    for string in root.iter("{*}String"):
        text = unicodedata.normalize("NFC", string.get("CONTENT") or "").strip()
        if not text:
            continue
        alternatives = tuple(dict.fromkeys(
            alternative for element in string.iter("{*}ALTERNATIVE")
            if (alternative := unicodedata.normalize("NFC", (element.text or "").strip())) and alternative != text))
        found.append(Word(text, _number(string, "HPOS"), _number(string, "VPOS"), _number(string, "WIDTH"),
                          _number(string, "HEIGHT"), alternatives))
    return size, found


def words(alto: bytes) -> list[Word]:
    """The words of an ALTO page in reading order (the order of its String elements), as printed
    (NFC), with their boxes; ValueError for a document that is not XML or a String without its
    position."""
    return _read(alto)[1]


def runs(text: str) -> list[str]:
    """The runs of letters and digits of a text (NFC), as the collection's search (digitize.search.index)
    cuts it into words: "206/QĐ-TTg" is 206, QĐ and TTg; "Dương," is Dương; "–" is nothing."""
    return _RUN.findall(unicodedata.normalize("NFC", text))


def exact_key(run: str) -> str:
    """A run as written, for exact matching: lower case, its tone mark apart from the letters (so
    that hòa and hoà agree), the other diacritics (â, ơ, đ...) kept."""
    decomposed = unicodedata.normalize("NFD", run.casefold())
    tones = "".join(c for c in decomposed if c in TONE_MARKS)
    letters = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    return f"{letters}\x00{tones}" if tones else letters


@dataclass(frozen=True)
class _Token:
    word: int  # index of its word in the page
    exact: str
    folded: frozenset[str]  # of the word as printed and of its alternative readings


def _tokens(page: _Page) -> list[_Token]:
    """The runs of the page's words in reading order (a word of punctuation alone has none)."""
    found = []
    for index, word in enumerate(page.words):
        printed = runs(word.text)
        readings = [printed, *(r for a in word.alternatives if len(r := runs(a)) == len(printed))]
        for place, run in enumerate(printed):
            found.append(_Token(index, exact_key(run), frozenset(fold(r[place]) for r in readings)))
    return found


def _matches(page: _Page, query: Query) -> list[_Hit]:
    """The hits of the query on the page (none unless it matches: every unit on it), in reading
    order: each a passage where units stand together; no two share a printed word."""
    tokens = _tokens(page)
    found = occurrences(query, [token.folded for token in tokens])
    if not matches(query, found):
        return []
    hits: list[_Hit] = []
    for passage in passages(found):
        indexes = tuple(dict.fromkeys(tokens[n].word for n in range(passage.start, passage.end)))
        is_exact = all(not has_marks(typed) or exact_key(typed) == tokens[o.start + k].exact
                       for o in passage.occurrences for k, typed in enumerate(query.typed[o.unit]))
        units = len(passage.units)
        if hits and indexes[0] <= hits[-1].last:  # two runs of one printed word ("206/QĐ-TTg")
            last = hits.pop()
            indexes = tuple(dict.fromkeys(last.indexes + indexes))
            units, is_exact = units + last.units, is_exact and last.exact
        hits.append(_Hit(page, indexes[0], indexes[-1], indexes, units, is_exact))
    return hits


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _box(word: Word, alto_size: tuple[float, float] | None,
         canvas: tuple[int, int] | None) -> tuple[int, int, int, int]:
    """The word's box on the canvas: x, y, width, height in whole canvas pixels."""
    sx = sy = 1.0
    if alto_size and canvas:
        sx, sy = canvas[0] / alto_size[0], canvas[1] / alto_size[1]
    x, y = max(0, _half_up(word.hpos * sx)), max(0, _half_up(word.vpos * sy))
    w, h = max(1, _half_up(word.width * sx)), max(1, _half_up(word.height * sy))
    if canvas:  # inside the canvas
        x, y = min(x, canvas[0] - 1), min(y, canvas[1] - 1)
        w, h = min(w, canvas[0] - x), min(h, canvas[1] - y)
    return x, y, w, h


def _with_start(url: str, start: int) -> str:
    """The request URL asking for the page of hits from ``start`` (its other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != START_PARAMETER]
    query.append((START_PARAMETER, str(start)))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _parameters(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _painting_asked(parameters: list[tuple[str, str]]) -> bool:
    """Whether the request's ``motivation`` lets painting annotations (all of ours) through."""
    asked = [m for name, value in parameters if name == "motivation" for m in value.split()]
    return not asked or any(m in ("painting", "sc:painting") for m in asked)


def _context(page: _Page, hit: _Hit) -> tuple[str, str]:
    before = [w.text for w in page.words[max(0, hit.first - CONTEXT_WORDS):hit.first]]
    after = [w.text for w in page.words[hit.last + 1:hit.last + 1 + CONTEXT_WORDS]]
    return (" ".join(before) + " " if before else "", " " + " ".join(after) if after else "")


def search_item(query: str, pages: list[tuple[int, bytes]], canvas_id: Callable[[int], str],
                canvas_sizes: dict[int, tuple[int, int]], request_url: str, start: int = 0,
                limit: int = 100) -> dict:
    """The IIIF Content Search 1.0 answer (JSON-ready) to ``query`` inside one item.

    ``pages``: (page number, ALTO document) of each page of the item; ``canvas_id``: the canvas URL
    of a page number; ``canvas_sizes``: (width, height) of each page's canvas (a page missing there,
    or an ALTO without a Page size, is taken at the ALTO's scale); ``request_url``: the URL the
    search was asked at (the list's ``@id``; its ``motivation`` is honoured, parameters other than
    q, motivation and ``start`` are reported as ignored); ``start``/``limit``: the hits of this
    page of the answer. The answer is a sc:AnnotationList of the hits' words (one annotation a
    word, painting its box), its ``hits`` (search:Hit: the annotations of each hit, the words
    matched as printed, punctuation between them included, and up to CONTEXT_WORDS words of the
    page before and after them) and ``within`` (sc:Layer) with the ``total`` of hits; when they do
    not fit in one page, ``startIndex``, ``next``/``prev`` and the layer's ``first``/``last``, at
    the request URL with ``start`` set. An empty query answers an
    empty list. ValueError for a negative ``start``, a ``limit`` under 1 or an unreadable ALTO."""
    if start < 0 or limit < 1:
        raise ValueError(f"a page of hits needs start >= 0 and limit >= 1, not {start} and {limit}")
    parameters = _parameters(request_url)
    parsed = parse(query)
    found: list[_Hit] = []
    if parsed.folded and _painting_asked(parameters):
        for number, alto in sorted(pages, key=lambda p: p[0]):
            try:
                size, page_words = _read(alto)
            except ValueError as exc:
                raise ValueError(f"page {number}: {exc}") from None
            found += _matches(_Page(number, size, page_words), parsed)
    # the words together first, then as typed, each in reading order
    found.sort(key=lambda hit: (-hit.units, not hit.exact))
    total = len(found)

    resources, hits = [], []
    for hit in found[start:start + limit]:
        page = hit.page
        canvas = canvas_id(page.number)
        ids = []
        for i in hit.indexes:
            word = page.words[i]
            x, y, w, h = _box(word, page.size, canvas_sizes.get(page.number))
            ids.append(f"{canvas}/words/{i}")
            resources.append({"@id": ids[-1], "@type": "oa:Annotation", "motivation": "sc:painting",
                              "resource": {"@type": "cnt:ContentAsText", "chars": word.text},
                              "on": f"{canvas}#xywh={x},{y},{w},{h}"})
        before, after = _context(page, hit)
        match = " ".join(w.text for w in page.words[hit.first:hit.last + 1])
        hits.append({"@type": "search:Hit", "annotations": ids, "match": match, "before": before, "after": after})

    within: dict = {"@type": "sc:Layer", "total": total}
    answer: dict = {"@context": [PRESENTATION_2_CONTEXT, SEARCH_CONTEXT], "@id": request_url,
                    "@type": "sc:AnnotationList", "within": within}
    if total > limit or start > 0:  # paged
        within["first"] = _with_start(request_url, 0)
        within["last"] = _with_start(request_url, max(0, (total - 1) // limit * limit))
        answer["startIndex"] = start
        if start + limit < total:
            answer["next"] = _with_start(request_url, start + limit)
        if start > 0:
            answer["prev"] = _with_start(request_url, max(0, start - limit))
    ignored = list(dict.fromkeys(name for name, _ in parameters if name not in HANDLED_PARAMETERS))
    if ignored:
        within["ignored"] = ignored
    answer["resources"] = resources
    answer["hits"] = hits
    return answer


def service(links_search_url: str) -> dict:
    """The search service of an item, for its IIIF Presentation 3.0 manifest's ``service`` list.

    Mirador 4 (through manifesto) takes the first entry of the manifest's ``service`` (or
    ``services``) whose ``profile`` is the Content Search 0 or 1 search profile, and asks
    ``<its id>?q=...``, the id read from ``id`` or else ``@id``; it reads no ``type``. The keys are
    those Presentation 3.0 gives a service of an older specification (``@id``, ``@type``
    SearchService1, ``profile``; no ``@context`` inside)."""
    return {"@id": links_search_url, "@type": SEARCH_SERVICE_TYPE, "profile": SEARCH_PROFILE}
