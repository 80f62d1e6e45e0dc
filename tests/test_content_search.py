"""Searching inside an item (IIIF Content Search API 1.0, digitize.access.iiif.content_search): Vietnamese
matching with and without diacritics, phrases, the words' boxes on the canvas (scaled from the
ALTO), the shape of the answer, paging; on ALTO pages written here with known boxes and on the
stored test items (tests/data/stored/)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ROOT, STORED
from digitize.access.iiif import content_search, presentation as manifest
from digitize.describe import mets
from digitize.access.iiif.content_search import search_item, service, words
from digitize.core.links import PublicLinks

LINKS = PublicLinks("https://thuvien.example.vn/so-hoa")
LIBRARY, ITEM = "HD-TV", "HD-DC-0009"
SEARCH_URL = "https://thuvien.example.vn/so-hoa/iiif/HD-TV/HD-DC-0009/search"
ALTO_SIZE = (1000, 1400)


def canvas(page: int) -> str:
    return LINKS.canvas(LIBRARY, ITEM, page)


def string(content: str, box: tuple[int, int, int, int], alternative: str = "") -> str:
    x, y, w, h = box
    inner = f'<ALTERNATIVE PURPOSE="OCR">{alternative}</ALTERNATIVE>' if alternative else ""
    return f'<String HPOS="{x}" VPOS="{y}" WIDTH="{w}" HEIGHT="{h}" WC="0.95" CONTENT="{content}">{inner}</String>'


def alto(*lines: list[str], size: tuple[int, int] = ALTO_SIZE) -> bytes:
    body = "".join(f'<TextLine HPOS="0" VPOS="0" WIDTH="10" HEIGHT="10">{"".join(line)}</TextLine>' for line in lines)
    return (f'<?xml version="1.0" encoding="UTF-8"?><alto xmlns="http://www.loc.gov/standards/alto/ns-v3#">'
            f'<Layout><Page ID="page_0" WIDTH="{size[0]}" HEIGHT="{size[1]}"><PrintSpace><TextBlock>{body}'
            f'</TextBlock></PrintSpace></Page></Layout></alto>').encode()


# Page 1: the OCR lost the diacritics of "Hải Dương"; "tinh" was corrected from "tỉnh" (the verse
# reads "tuyết tinh thần"); "Hải" and "Dương" apart; "Hoà" with the tone mark placed the old way.
PAGE_1 = alto(
    [string("Ở", (100, 160, 30, 40)), string("Hai", (141, 161, 70, 39)), string("Duong", (222, 160, 125, 40)),
     string("–", (360, 170, 20, 10)), string("tuyết", (391, 160, 80, 40)),
     string("tinh", (482, 160, 70, 40), alternative="tỉnh"), string("thần,", (563, 160, 90, 40))],
    [string("Hải", (100, 220, 75, 40)), string("Phòng", (186, 220, 120, 40)), string("và", (317, 220, 50, 40)),
     string("Dương", (378, 221, 131, 39)), string("Đông", (520, 220, 100, 40)), string("Hoà", (631, 220, 80, 40))],
)
# Page 2: "Hải Dương," as printed; the phrase "Hải" / "Dương" across a line end.
PAGE_2 = alto(
    [string("Tỉnh", (100, 100, 120, 40)), string("Hải", (235, 101, 75, 41)), string("Dương,", (321, 99, 133, 43)),
     string("năm", (470, 100, 90, 40)), string("1945.", (575, 100, 95, 40))],
    [string("về", (100, 300, 60, 40)), string("HẢI", (171, 300, 80, 40))],
    [string("DƯƠNG", (100, 360, 160, 40))],
)
PAGES = [(1, PAGE_1), (2, PAGE_2)]
SAME_SIZE = {1: ALTO_SIZE, 2: ALTO_SIZE}


def search(query: str, sizes=SAME_SIZE, url: str | None = None, **paging) -> dict:
    return search_item(query, PAGES, canvas, sizes, url or f"{SEARCH_URL}?q={query}", **paging)


def found(answer: dict) -> list[list[tuple[str, str]]]:
    """Each hit as the (chars, on) of its annotations, in the order of the hits."""
    by_id = {a["@id"]: a for a in answer["resources"]}
    return [[(by_id[i]["resource"]["chars"], by_id[i]["on"]) for i in hit["annotations"]] for hit in answer["hits"]]


def on(page: int, x: int, y: int, w: int, h: int) -> str:
    return f"{canvas(page)}#xywh={x},{y},{w},{h}"


HAI_DUONG_PRINTED = [("Hải", on(2, 235, 101, 75, 41)), ("Dương,", on(2, 321, 99, 133, 43))]
HAI_DUONG_ACROSS_LINES = [("HẢI", on(2, 171, 300, 80, 40)), ("DƯƠNG", on(2, 100, 360, 160, 40))]
HAI_DUONG_UNMARKED = [("Hai", on(1, 141, 161, 70, 39)), ("Duong", on(1, 222, 160, 125, 40))]
HAI_APART = [("Hải", on(1, 100, 220, 75, 40))]
DUONG_APART = [("Dương", on(1, 378, 221, 131, 39))]


def test_the_words_of_a_page_with_their_boxes():
    page = words(PAGE_1)
    assert [w.text for w in page][:7] == ["Ở", "Hai", "Duong", "–", "tuyết", "tinh", "thần,"]
    corrected = page[5]
    assert (corrected.hpos, corrected.vpos, corrected.width, corrected.height) == (482, 160, 70, 40)
    assert corrected.alternatives == ("tỉnh",)
    decomposed = alto([string("Dương", (1, 2, 3, 4)).replace("Dương", "Du\u031bo\u031bng")])
    assert [w.text for w in words(decomposed)] == ["Dương"]  # NFC
    with pytest.raises(ValueError, match="not well-formed"):
        words(b"<alto><String")


def test_a_query_without_diacritics_finds_every_accented_form():
    answer = search("hai duong")
    # the words together first, then each alone (unquoted words match anywhere on the page), each
    # in reading order: page 1 before page 2, and within a page
    assert found(answer) == [HAI_DUONG_UNMARKED, HAI_DUONG_PRINTED, HAI_DUONG_ACROSS_LINES, HAI_APART, DUONG_APART]
    assert [hit["match"] for hit in answer["hits"]] == ["Hai Duong", "Hải Dương,", "HẢI DƯƠNG", "Hải", "Dương"]
    assert found(search("dong")) == [[("Đông", on(1, 520, 220, 100, 40))]]  # đ read as d


def test_a_query_with_diacritics_lists_the_exact_words_first():
    answer = search("Hải Dương")
    assert found(answer) == [HAI_DUONG_PRINTED, HAI_DUONG_ACROSS_LINES, HAI_DUONG_UNMARKED, HAI_APART, DUONG_APART]
    assert answer["within"]["total"] == 5
    assert found(search("hải dương")) == found(answer)  # case does not matter
    # the corrected word is matched exactly by its correction only, its OCR reading comes after
    assert [hit["match"] for hit in search("tỉnh")["hits"]] == ["Tỉnh", "tinh"]
    assert [hit["match"] for hit in search("tinh")["hits"]] == ["tinh", "Tỉnh"]
    assert [hit["match"] for hit in search("hòa")["hits"]] == ["Hoà"]  # the tone mark placed the old way
    assert [hit["match"] for hit in search("đông")["hits"]] == ["Đông"]


def test_a_quoted_phrase_is_not_found_in_words_apart_unquoted_words_are():
    # page 1 has "Hải Phòng và Dương": its "Hải" and "Dương" make no hit of the phrase
    phrase = found(search('"hai duong"'))
    assert phrase == [HAI_DUONG_UNMARKED, HAI_DUONG_PRINTED, HAI_DUONG_ACROSS_LINES]
    assert found(search('"hai phong"')) == [[("Hải", on(1, 100, 220, 75, 40)), ("Phòng", on(1, 186, 220, 120, 40))]]
    assert search('"phong duong"')["hits"] == []
    assert search('"duong hai"')["hits"] == []
    assert search('"hai duong" phong')["within"]["total"] == 2  # page 1 only: the phrase and the word
    # unquoted, words match anywhere on a page holding them all, each place a hit
    assert [hit["match"] for hit in search("phong duong")["hits"]] == ["Duong", "Phòng", "Dương"]
    assert [hit["match"] for hit in search("phong 1945")["hits"]] == []  # not on one page
    # punctuation alone between two words is passed over; around a word it is left out
    assert [hit["match"] for hit in search('"duong tuyet"')["hits"]] == ["Duong – tuyết"]
    assert [hit["match"] for hit in search("“thần”")["hits"]] == ["thần,"]
    # words are runs of letters and digits, as the collection's search cuts them; a hit covers
    # the printed words its runs are in, and no two hits share a printed word
    joined = [(1, alto([string("Hải-Hải", (10, 20, 30, 40)), string("Dương", (50, 20, 30, 40))]))]
    answer = search_item("hai", joined, canvas, {}, SEARCH_URL)
    assert found(answer) == [[("Hải-Hải", on(1, 10, 20, 30, 40))]]
    assert found(search_item("hai duong", joined, canvas, {}, SEARCH_URL)) == \
        [[("Hải-Hải", on(1, 10, 20, 30, 40)), ("Dương", on(1, 50, 20, 30, 40))]]


def test_boxes_are_scaled_to_the_canvas():
    half = search("Hải Dương", sizes={1: (500, 700), 2: (500, 700)})
    # 235,101,75,41 and 321,99,133,43 halved, rounded half up
    assert found(half)[0] == [("Hải", on(2, 118, 51, 38, 21)), ("Dương,", on(2, 161, 50, 67, 22))]
    # a page without a canvas size stays at the ALTO's scale
    assert found(search("Hải Dương", sizes={}))[0] == HAI_DUONG_PRINTED


def test_the_answer_is_a_content_search_1_annotation_list():
    url = f"{SEARCH_URL}?q=hai+duong&motivation=painting"
    answer = search("hai duong", url=url)
    assert answer["@context"] == ["http://iiif.io/api/presentation/2/context.json",
                                  "http://iiif.io/api/search/1/context.json"]
    assert answer["@id"] == url
    assert answer["@type"] == "sc:AnnotationList"
    assert answer["within"] == {"@type": "sc:Layer", "total": 5}
    assert not {"next", "prev", "startIndex"} & answer.keys()  # all in one page
    ids = [a["@id"] for a in answer["resources"]]
    assert len(set(ids)) == len(ids) == 8
    for annotation in answer["resources"]:
        assert set(annotation) == {"@id", "@type", "motivation", "resource", "on"}
        assert annotation["@type"] == "oa:Annotation" and annotation["motivation"] == "sc:painting"
        assert annotation["resource"]["@type"] == "cnt:ContentAsText"
        assert re.fullmatch(re.escape(canvas(1)) + r"#xywh=\d+,\d+,\d+,\d+|" + re.escape(canvas(2))
                            + r"#xywh=\d+,\d+,\d+,\d+", annotation["on"])
    for hit in answer["hits"]:
        assert set(hit) == {"@type", "annotations", "match", "before", "after"}
        assert hit["@type"] == "search:Hit" and set(hit["annotations"]) <= set(ids)
    assert answer["within"]["total"] == len(answer["hits"])
    first = answer["hits"][0]
    assert (first["before"], first["match"], first["after"]) == \
        ("Ở ", "Hai Duong", " – tuyết tinh thần, Hải Phòng")
    assert json.loads(json.dumps(answer)) == answer
    # parameters not understood are reported; a motivation other than painting finds nothing
    assert search("hai", url=f"{SEARCH_URL}?q=hai&user=x&date=y")["within"]["ignored"] == ["user", "date"]
    assert search("hai", url=f"{SEARCH_URL}?q=hai&motivation=commenting")["within"]["total"] == 0


@pytest.mark.parametrize("query", ["", "   ", " ,.– "])
def test_an_empty_query_answers_an_empty_list(query):
    answer = search(query, url=f"{SEARCH_URL}?q=")
    assert answer == {"@context": ["http://iiif.io/api/presentation/2/context.json",
                                   "http://iiif.io/api/search/1/context.json"],
                      "@id": f"{SEARCH_URL}?q=", "@type": "sc:AnnotationList",
                      "within": {"@type": "sc:Layer", "total": 0}, "resources": [], "hits": []}


def start_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["start"][0])


def test_paging():
    many = [(n, alto([string("Hải", (10 * i, 20, 8, 10)) for i in range(1, 3)])) for n in (1, 2, 3)]  # 6 hits
    url = f"{SEARCH_URL}?q=hai"

    def page(start: int) -> dict:
        asked = url if not start else f"{url}&start={start}"
        return search_item("hai", many, canvas, {}, asked, start=start, limit=4)

    first = page(0)
    assert first["within"]["total"] == 6 and first["startIndex"] == 0
    assert len(first["hits"]) == 4 and len(first["resources"]) == 4
    assert start_of(first["next"]) == 4 and "prev" not in first
    assert parse_qs(urlsplit(first["next"]).query)["q"] == ["hai"]
    assert start_of(first["within"]["first"]) == 0 and start_of(first["within"]["last"]) == 4
    second = page(start_of(first["next"]))
    assert second["startIndex"] == 4 and "next" not in second and start_of(second["prev"]) == 0
    assert [h["annotations"] for h in first["hits"] + second["hits"]] == \
        [h["annotations"] for h in search_item("hai", many, canvas, {}, url)["hits"]]
    assert "ignored" not in second["within"]  # start is understood
    with pytest.raises(ValueError):
        search_item("hai", many, canvas, {}, url, start=-1)


def test_the_service_block_is_what_mirador_reads():
    url = f"{SEARCH_URL}"
    assert service(url) == {"@id": url, "@type": "SearchService1", "profile": "http://iiif.io/api/search/1/search"}
    # Mirador 4 (manifesto) finds the service by its profile and reads its id from id or @id
    source = (ROOT / "src/digitize/data/site/mirador/mirador.min.js").read_text(encoding="utf-8")
    assert f'getService("{content_search.SEARCH_PROFILE}")' in source
    assert 'n=this.__jsonld[t],n||(n=this.__jsonld["@"+t])' in source  # getProperty("id") falls back on @id
    assert "`${o.id}?${new URLSearchParams({q:m})}`" in source


def stored_item(item_id: str):
    """The pages of a stored test item: (number, ALTO) and the canvas sizes, from its METS."""
    folder = STORED / "store" / LIBRARY / item_id
    package = mets.read((folder / "mets.xml").read_bytes())
    files = {entry.id: entry for entry in package.files}
    pages = [(p.number, (folder / mets.stored_path(package, files[p.alto])).read_bytes()) for p in package.pages]
    return pages, {p.number: (p.image_width, p.image_height) for p in package.pages}


def test_a_stored_item():
    pages, sizes = stored_item("HD-DC-0001")
    assert sizes[1] == (623, 355)  # as its ALTO's Page

    def stored_canvas(page: int) -> str:
        return LINKS.canvas(LIBRARY, "HD-DC-0001", page)

    answer = search_item("quyet dinh", pages, stored_canvas, sizes, f"{SEARCH_URL}?q=quyet+dinh")
    # alto/0001.xml, textline_0: Quyết 372,44,83,33 and định 465,45,64,31
    assert found(answer)[0] == [("Quyết", f"{stored_canvas(1)}#xywh=372,44,83,33"),
                                ("định", f"{stored_canvas(1)}#xywh=465,45,64,31")]
    assert answer["hits"][0]["before"] == "Triển khai thực hiện "
    # textline_1: 206/QĐ-TTg 112,89,161,30 and ngày 282,87,68,32
    for query in ("qd ttg ngay", "QĐ-TTg ngày"):
        answer = search_item(query, pages, stored_canvas, sizes, SEARCH_URL)
        assert found(answer) == [[("206/QĐ-TTg", f"{stored_canvas(1)}#xywh=112,89,161,30"),
                                  ("ngày", f"{stored_canvas(1)}#xywh=282,87,68,32")]]
        assert answer["hits"][0]["match"] == "206/QĐ-TTg ngày"
    assert answer["within"]["total"] == len(answer["hits"])
    # the word the diacritic correction changed (alto/0002.xml of HN-TK-0002: "tinh", read "tỉnh")
    pages, sizes = stored_item("HN-TK-0002")
    hits = search_item("tỉnh", pages, canvas, sizes, f"{SEARCH_URL}?q=tỉnh")["hits"]
    assert "tinh" in [hit["match"] for hit in hits]
