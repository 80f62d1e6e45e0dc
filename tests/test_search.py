"""Full-text search (digitize.search.index) on SQLite and on a real PostgreSQL: Vietnamese folding,
accented matches ranked first, phrases, AND, filters, paging, facets, a new version replacing the
old text, withdrawn items gone, access tiers (secret items nowhere) and hostile queries."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from conftest import ledger_session, sqlite_url
from digitize.search import index as search
from digitize.ledger.database import Item, Library, utcnow
from digitize.search.index import IndexedItem, fold, marked, tokens

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
LIBRARY = "HD-TV"
FILLER = ("Cuốn sách ghi lại lịch sử văn hóa của vùng đất này qua nhiều thế hệ người dân sống bên bờ sông "
          "và những làng nghề truyền thống.")


@pytest.fixture(scope="module", params=ENGINES)
def database(request, tmp_path_factory):
    """One ledger per engine for the module (the PostgreSQL server is the session's)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("search") / "ledger.sqlite")
    return request.getfixturevalue("postgres").new_database("search")


@pytest.fixture
def session(database):
    """The module's ledger with an empty index and no items."""
    with ledger_session(database) as opened:
        search.clear(opened)
        opened.execute(text("DELETE FROM items"))
        opened.commit()
        yield opened


def index_item(session, item: IndexedItem) -> None:
    """The item recorded in the ledger as stored, with its access, then indexed (as a run does)."""
    if session.get(Library, item.library) is None:
        session.add(Library(code=item.library, name=item.library, province="", tier=""))
    recorded = session.query(Item).filter_by(library=item.library, item_id=item.item_id).first()
    if recorded is None:
        recorded = Item(library=item.library, item_id=item.item_id, digitized=utcnow())
        session.add(recorded)
    recorded.title, recorded.category, recorded.access, recorded.status = item.title, item.category, item.access, "ok"
    session.commit()
    search.index_item(session, item)


def book(item_id: str, *pages: str, access: str = "open", library: str = LIBRARY, category: str = "dia_chi",
         language: str = "vie", date: str = "1960", title: str | None = None, **fields) -> IndexedItem:
    return IndexedItem(library=library, item_id=item_id, access=access, category=category, language=language,
                       date=date, title=title if title is not None else f"Sách {item_id}",
                       pages=list(enumerate(pages, start=1)), **fields)


def indexed_rows(session) -> int:
    """The rows (pages and records) in the index."""
    table = "search_pages" if session.get_bind().dialect.name == "postgresql" else "search_text"
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def found(result) -> list[str]:
    return [hit.item_id for hit in result.hits]


def find(session, query: str, tiers=frozenset({"open"}), **filters) -> list[str]:
    return found(search.search(session, query, set(tiers), **filters))


# ---- folding, snippets, queries (no database) -------------------------------------------------

def test_folding_takes_off_tones_and_vowel_marks_and_maps_d_bar():
    assert fold("Hải Dương") == "hai duong"
    assert fold("Đắk Nông") == fold("Đăk Nông") == fold("ĐẮK NÔNG") == "dak nong"
    assert fold("ắ ơ ư Ư đ Đ ệ ỹ") == "a o u u d d e y"
    assert fold("Ha\u0309i Du\u031bo\u031bng") == "hai duong"  # typed decomposed (NFD)
    assert tokens("Tỉnh Hải Dương, năm 1945: (Đắk-Nông)") == ["tinh", "hai", "duong", "nam", "1945", "dak", "nong"]
    assert search.words("Tỉnh HẢI Dương") == ["tỉnh", "hải", "dương"]


def test_a_snippet_is_about_twenty_words_around_the_first_match_marked_as_printed():
    words = [f"từ{n}" for n in range(60)]
    words[30:32] = ["Hải", "Dương"]
    parts = search.snippet(" ".join(words), [["hai", "duong"]])
    shown = marked(parts, "[", "]")
    assert "[Hải Dương]" in shown
    assert shown.startswith("… từ22 ") and shown.endswith(" …")
    assert len(shown.split()) == search.SNIPPET_WORDS + 2  # the words and the two "…"
    assert [piece for piece, matched in parts if matched] == ["Hải Dương"]
    assert marked(search.snippet("Dòng một\n\n  dòng hai", [["hai"]])) == "Dòng một dòng \x02hai\x03"


def test_queries_are_read_as_words_and_phrases():
    parsed = search.parse('Đắk "Hải  Dương" nong "unbalanced')
    assert parsed.folded == [["dak"], ["hai", "duong"], ["nong"], ["unbalanced"]]
    assert parsed.exact == [["đắk"], ["hải"], ["dương"]]
    assert search.fts5_query("folded", [["a", "b"], ["c"]]) == 'folded : "a b" AND folded : "c"'
    assert search.tsquery([["a", "b"], ["c"]]) == "('a' <-> 'b') & ('c')"
    assert search.parse('"lịch sử văn hóa" hai').pairs == ["lichsu", "suvan", "vanhoa"]
    assert search.parse('NEAR(a b) col:x -y * OR \' \\').folded == [["near"], ["a"], ["b"], ["col"], ["x"], ["y"],
                                                                   ["or"]]


# ---- matching ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["hai duong", "Hải Dương", "HAI DUONG", "hải dương"])
def test_a_query_with_or_without_marks_finds_the_accented_page(session, query):
    index_item(session, book("HD-1", FILLER, f"{FILLER} Tỉnh Hải Dương năm 1945. {FILLER}"))
    index_item(session, book("HD-2", FILLER))
    result = search.search(session, query, {"open"})
    assert found(result) == ["HD-1"] and result.total == 1
    hit = result.hits[0]
    assert hit.page == 2 and hit.pages_matched == 1 and hit.title == "Sách HD-1"
    assert [piece for piece, matched in hit.snippet if matched] == ["Hải Dương"]


def test_both_spellings_of_dak_nong_are_found_and_the_exact_one_ranks_first(session):
    # the exactly spelled page is long (a weaker bm25 / ts_rank_cd): the exact tier still puts it first
    index_item(session, book("DN-EXACT", f"{FILLER} {FILLER} Đắk Nông {FILLER} {FILLER} {FILLER}"))
    index_item(session, book("DN-OTHER", "Tỉnh Đăk Nông. Đăk Nông"))
    index_item(session, book("DN-PLAIN", "dak nong dak nong"))
    index_item(session, book("HD-1", "Hải Dương"))
    accented = find(session, "Đắk Nông")
    assert accented[0] == "DN-EXACT" and set(accented) == {"DN-EXACT", "DN-OTHER", "DN-PLAIN"}
    assert set(find(session, "dak nong")) == {"DN-EXACT", "DN-OTHER", "DN-PLAIN"}
    assert find(session, "Đăk Nông")[0] == "DN-OTHER"
    assert find(session, '"Đắk Nông"')[0] == "DN-EXACT"
    snippet = search.search(session, "Đắk Nông", {"open"}).hits
    shown = {hit.item_id: [piece for piece, matched in hit.snippet if matched] for hit in snippet}
    assert shown == {"DN-EXACT": ["Đắk Nông"], "DN-OTHER": ["Đăk Nông", "Đăk Nông"], "DN-PLAIN": ["dak nong dak nong"]}


def test_within_a_tier_the_more_relevant_page_ranks_first(session):
    index_item(session, book("ONCE", f"{FILLER} {FILLER} Bãi sông Hồng. {FILLER} {FILLER}"))
    index_item(session, book("OFTEN", "Sông Hồng, sông Hồng: đê sông Hồng."))
    index_item(session, book("RECORD", FILLER, title="Sông Hồng"))
    assert find(session, "song hong")[-1] == "ONCE"
    assert set(find(session, "song hong")[:2]) == {"OFTEN", "RECORD"}


def test_a_name_typed_as_words_ranks_the_pages_holding_it_together_first(session):
    # the book: "thiên" of "thiên nhiên" and "Hà Tiên" apart on one page, the name on another
    apart = f"{FILLER} Mạc gia thiên nhiên {FILLER} tích cũ ở Hà Tiên {FILLER}"
    index_item(session, book("APART", *[apart] * 3, f"{apart} thiên tích {apart}"))
    index_item(session, book("NAME", FILLER, f"{FILLER} Trấn Hà Tiên thời Mạc Thiên Tích. {FILLER}"))
    result = search.search(session, "mac thien tich ha tien", {"open"})
    # the name's three words and "Hà Tiên" together, before two pairs of the words, before one
    assert [(hit.item_id, hit.page) for hit in result.hits] == [("NAME", 2), ("APART", 4)]
    # the snippet shows where the words stand together, not a lone "thiên" of "thiên nhiên"
    assert [piece for piece, matched in result.hits[0].snippet if matched] == ["Mạc Thiên Tích"]
    assert "thiên" not in [piece for piece, matched in result.hits[1].snippet if matched]
    # unquoted words apart still match (all of them on one page), a quoted name only where it stands
    assert set(find(session, "mac tich")) == {"NAME", "APART"}
    assert find(session, '"thien tich ha"') == []
    assert search.item_pages(session, LIBRARY, "APART", "mac thien tich ha tien") == [1, 2, 3, 4]
    assert search.item_pages(session, LIBRARY, "APART", '"thien tich" ha tien') == [4]


def test_words_are_anded_and_a_quoted_phrase_needs_its_words_together_in_order(session):
    index_item(session, book("TOGETHER", "Tỉnh Hải Dương có sông Thái Bình."))
    index_item(session, book("APART", "Thành phố Hải Phòng giáp Dương Kinh."))
    index_item(session, book("REVERSED", "Dương Hải là tên một làng."))
    index_item(session, book("HALF", "Hải đăng trên đảo."))
    assert set(find(session, "hai duong")) == {"TOGETHER", "APART", "REVERSED"}
    assert find(session, '"hai duong"') == ["TOGETHER"]
    assert find(session, '"Hải Dương" "thai binh"') == ["TOGETHER"]
    assert find(session, '"hai duong" kinh') == []
    assert find(session, "hai dang") == ["HALF"]


def test_the_item_record_is_searched_and_a_text_match_gives_the_page(session):
    index_item(session, book("REC", "Trang đầu không có gì.", title="Địa chí Vĩnh Phúc", creators=["Nguyễn Văn An"],
                             subjects=["Lịch sử"], places=["Tam Đảo"], call_number="DC-123"))
    index_item(session, book("TEXT", "Trang một.", "Trang hai.", "Chuyến đi Vĩnh Phúc năm 1930.",
                             f"Lại Vĩnh Phúc. {FILLER} {FILLER}"))  # page 3 is the shorter, the best
    hits = {hit.item_id: hit for hit in search.search(session, "vinh phuc", {"open"}).hits}
    assert hits["REC"].page is None and hits["REC"].pages_matched == 0
    assert marked(hits["REC"].snippet, "[", "]").startswith("Địa chí [Vĩnh Phúc] Nguyễn Văn An")
    assert hits["TEXT"].page == 3 and hits["TEXT"].pages_matched == 2
    assert find(session, "nguyen van an tam dao") == ["REC"]
    assert find(session, "dc 123") == ["REC"]


# ---- filters, paging, facets ------------------------------------------------------------------

def index_pottery_books(session) -> None:
    """25 books on the pottery village of Chu Đậu in two libraries, two categories and two
    languages, one a year every four years from 1900 (B24 without), and one book without it."""
    for n in range(25):
        index_item(session, book(f"B{n:02d}", f"Làng gốm Chu Đậu số {n}. {FILLER}",
                                 library="HD-TV" if n < 15 else "VP-LT",
                                 category="dia_chi" if n % 5 else "rare",
                                 language="vie" if n % 2 else "fra",
                                 date="" if n == 24 else str(1900 + 4 * n)))
    index_item(session, book("OTHER", FILLER))


def test_filters_paging_and_facets_give_the_expected_counts(session):
    index_pottery_books(session)
    result = search.search(session, "gom chu dau", {"open"})
    assert result.total == 25 and len(result.hits) == 20 and result.pages == 2
    assert result.facets == {"library": {"HD-TV": 15, "VP-LT": 10}, "category": {"dia_chi": 20, "rare": 5},
                             "language": {"vie": 12, "fra": 13}}
    second = search.search(session, "gom chu dau", {"open"}, page=2)
    assert second.total == 25 and len(second.hits) == 5
    assert not set(found(result)) & set(found(second))
    assert set(found(result)) | set(found(second)) == {f"B{n:02d}" for n in range(25)}
    assert search.search(session, "gom chu dau", {"open"}, page=3).hits == []
    assert [len(search.search(session, "gom chu dau", {"open"}, page=p, page_size=7).hits)
            for p in (1, 2, 3, 4, 5)] == [7, 7, 7, 4, 0]

    library = search.search(session, "gom chu dau", {"open"}, library="VP-LT")
    assert library.total == 10 and {h.library for h in library.hits} == {"VP-LT"}
    assert library.facets == {"library": {"VP-LT": 10}, "category": {"dia_chi": 8, "rare": 2},
                              "language": {"vie": 5, "fra": 5}}
    both = search.search(session, "gom chu dau", {"open"}, library="VP-LT", category="rare")
    assert both.total == 2 and set(found(both)) == {"B15", "B20"}
    assert both.facets == {"library": {"VP-LT": 2}, "category": {"rare": 2}, "language": {"vie": 1, "fra": 1}}
    assert search.search(session, "gom chu dau", {"open"}, language="fra").total == 13
    assert search.search(session, "gom chu dau", {"open"}, language="fra", library="HD-TV").total == 8
    years = search.search(session, "gom chu dau", {"open"}, year_from=1920, year_to=1940)
    assert set(found(years)) == {"B05", "B06", "B07", "B08", "B09", "B10"} and years.total == 6
    assert search.search(session, "gom chu dau", {"open"}, year_from=1990).total == 1  # B23; B24 has no year
    assert search.search(session, "gom chu dau", {"open"}, year_to=1899).total == 0
    assert not result.more


@pytest.mark.slow
@pytest.mark.parametrize("way", ["pages in order", "the first items' pages, then GIN", "GIN narrowed by the items",
                                 "GIN"])
def test_postgresql_gives_the_same_answers_whichever_way_it_finds_the_rows(postgres, way, monkeypatch):
    with ledger_session(postgres.new_database("search_ways")) as session:
        index_pottery_books(session)
        search.optimize(session)  # the planner's statistics, which choose the way
        monkeypatch.setattr(search, "READ_PAGE_COST", 0.0 if "order" in way or "first" in way else 1e12)
        monkeypatch.setattr(search, "PREFIX_SHARE", 1e-9 if "first" in way else 1e12)  # 1e-9: one item's pages
        monkeypatch.setattr(search, "NARROW_SHARE", 1.0 if "narrowed" in way else 0.0)
        assert search.search(session, "gom chu dau", {"open"}).total == 25
        assert set(found(search.search(session, "gom chu dau", {"open"}, library="VP-LT", category="rare"))) == {
            "B15", "B20"}
        years = search.search(session, '"chu dau" so', {"open"}, year_from=1920, year_to=1940, language="vie")
        assert set(found(years)) == {"B05", "B07", "B09"}
        assert found(search.search(session, "gom 17", {"open"})) == ["B17"]
        assert search.search(session, "gom", {"open"}, library="NONE").total == 0


def test_a_word_on_too_many_pages_ranks_a_bounded_number_of_rows(session, monkeypatch):
    for n in range(6):
        index_item(session, book(f"C{n}", "Làng gốm.", "Làng gốm Chu Đậu.", "Đình làng."))
    search.optimize(session)
    assert search.search(session, "lang", {"open"}).total == 6
    monkeypatch.setattr(search, "CANDIDATES", 7)  # the rows of at least 3 items
    monkeypatch.setattr(search, "RARE_WORD_ROWS", 7)  # SQLite: a word on 7 rows or more has no weight in bm25
    result = search.search(session, "lang", {"open"})
    assert result.more and 3 <= result.total < 6 and len(result.hits) == result.total
    assert sum(result.facets["library"].values()) == result.total
    accented = search.search(session, "làng gốm", {"open"})
    assert accented.more and accented.hits[0].page in (1, 2)
    # "chu dau" is on fewer rows than that: those words rank, "lang" only has to be there too
    mixed = search.search(session, "lang chu dau", {"open"})
    assert not mixed.more and mixed.total == 6 and {hit.page for hit in mixed.hits} == {2}
    # phrases: "lang gom" is on 12 rows (ranked in the index's order), "chu dau" on 6 (by bm25)
    phrase = search.search(session, '"lang gom"', {"open"})
    assert phrase.more and {hit.page for hit in phrase.hits} <= {1, 2}
    assert found(search.search(session, '"chu dau" lang', {"open"})) == [f"C{n}" for n in range(6)]
    assert search.search(session, '"dau chu"', {"open"}).total == 0


# ---- changes ----------------------------------------------------------------------------------

def test_a_new_version_replaces_the_old_text_and_a_withdrawn_item_is_gone(session):
    index_item(session, book("V", "Bản cũ nói về chợ Bến Thành.", "Trang hai của bản cũ."))
    index_item(session, book("KEEP", "Chợ Bến Thành và bến cảng."))
    assert set(find(session, "cho ben thanh")) == {"V", "KEEP"}
    index_item(session, book("V", "Bản mới nói về Văn Miếu.", title="Bản mới"))
    assert indexed_rows(session) == 4  # the new version's page and record, and KEEP's
    assert find(session, "cho ben thanh") == ["KEEP"]
    assert find(session, "ban cu") == []
    result = search.search(session, "van mieu", {"open"})
    assert found(result) == ["V"] and result.hits[0].title == "Bản mới" and result.hits[0].page == 1
    assert search.remove_item(session, LIBRARY, "V") is True
    assert search.remove_item(session, LIBRARY, "V") is False
    result = search.search(session, "van mieu", {"open"})
    assert result.hits == [] and result.total == 0 and result.facets == search.empty_facets()
    assert find(session, "ben thanh") == ["KEEP"]
    index_item(session, book("OTHER-LIB", "Bến Thành", library="VP-LT"))
    search.clear(session, "VP-LT")
    assert find(session, "ben thanh") == ["KEEP"]
    search.clear(session)
    assert find(session, "ben thanh") == [] and indexed_rows(session) == 0


def test_the_pages_of_one_item_holding_the_words_are_known_to_the_search_inside_it(session):
    index_item(session, book("BOOK", "Làng Hải Dương.", "Không có gì.", "Dương Hải, hai dương.", title="Hải Dương"))
    index_item(session, book("OTHER", "Hải Dương."))
    assert search.item_pages(session, LIBRARY, "BOOK", "hai duong") == [1, 3]  # words, not the phrase; not the record
    assert search.item_pages(session, LIBRARY, "BOOK", "Dương") == [1, 3]
    assert search.item_pages(session, LIBRARY, "BOOK", "không") == [2]
    assert search.item_pages(session, LIBRARY, "BOOK", "xyz") == []
    assert search.item_pages(session, LIBRARY, "BOOK", '"') == []
    assert search.item_pages(session, LIBRARY, "NOT-INDEXED", "hai") is None


def test_blank_pages_are_not_rows_and_page_numbers_must_be_distinct(session):
    index_item(session, book("BLANK", "", "  \n ", "Trang ba có chữ.", title=""))
    assert indexed_rows(session) == 1
    hit = search.search(session, "trang ba", {"open"}).hits[0]
    assert hit.page == 3
    with pytest.raises(ValueError, match="distinct"):
        index_item(session, IndexedItem(LIBRARY, "DUP", "open", "rare", pages=[(1, "a"), (1, "b")]))
    with pytest.raises(ValueError):
        index_item(session, IndexedItem(LIBRARY, "ZERO", "open", "rare", pages=[(0, "a")]))


# ---- access tiers -----------------------------------------------------------------------------

def test_a_restricted_item_is_found_by_its_record_only_for_the_public_never_by_its_text(session):
    index_item(session, book("OPEN-1", "Làng Quỳnh Lôi mở cửa đình.", library="HD-TV"))
    index_item(session, book("RESTR-1", f"{FILLER} Gia phả họ Vũ ở làng Quỳnh Lôi, đình Mộ Trạch.",
                             f"{FILLER} Bia đá đình Mộ Trạch.", access="restricted", library="VP-LT",
                             title="Hương ước làng Mộ Trạch", creators=["Vũ Phương Đề"], call_number="HV.771"))
    index_item(session, book("SECRET-1", "Làng Quỳnh Lôi, đình Mộ Trạch, bí mật.", access="secret",
                             library="PY-TV", title="Hồ sơ Mộ Trạch"))

    def public(query: str, **options):
        return search.search(session, query, {"open"}, record_tiers={"restricted"}, **options)

    # its description: title, creator, call number; without and with marks
    for query in ("huong uoc mo trach", "Vũ Phương Đề", "vu phuong de", "HV.771"):
        result = public(query)
        assert found(result) == ["RESTR-1"], query
        [hit] = result.hits
        assert hit.page is None and hit.pages_matched == 0 and hit.access == "restricted"
        assert "Gia phả" not in marked(hit.snippet) and "Bia" not in marked(hit.snippet)
    # a word of its pages alone finds it only for a reader who may open it (the page is then the hit)
    for query in ("gia pha ho vu", "bia da", '"dinh mo trach"', "quynh loi"):
        assert "RESTR-1" not in found(public(query)), query
    assert found(public("quynh loi")) == ["OPEN-1"] and public("quynh loi").total == 1
    inside = search.search(session, "bia da", {"open", "restricted"})
    assert found(inside) == ["RESTR-1"] and inside.hits[0].page == 2
    # counted in the facets like any item, and kept out where its library keeps it unlisted
    assert public("mo trach").facets["library"] == {"VP-LT": 1}
    assert public("mo trach", unlisted={"VP-LT"}).total == 0
    assert found(public("mo trach", unlisted={"HD-TV"})) == ["RESTR-1"]
    # the secret item stays out, whatever is asked
    for query in ("ho so mo trach", "bi mat", "mo trach"):
        result = search.search(session, query, {"open"}, record_tiers={"restricted", "secret"})
        assert "SECRET-1" not in repr(result) and "PY-TV" not in repr(result), query


def test_secret_items_are_never_found_and_restricted_ones_only_by_staff(session):
    rare = "Quỳnh Lôi"
    index_item(session, book("OPEN-1", f"Làng {rare} mở.", library="HD-TV", category="dia_chi"))
    index_item(session, book("RESTRICTED-1", f"Làng {rare} hạn chế.", access="restricted", library="VP-LT",
                             category="rare"))
    index_item(session, book("SECRET-1", f"Làng {rare} bí mật chỉ ở đây.", access="secret", library="PY-TV",
                             category="endogenous", title="Hồ sơ mật số 7"))
    public = search.search(session, "quynh loi", {"open"})
    assert found(public) == ["OPEN-1"] and public.total == 1
    assert public.facets == {"library": {"HD-TV": 1}, "category": {"dia_chi": 1}, "language": {"vie": 1}}
    staff = search.search(session, "quynh loi", {"open", "restricted"})
    assert set(found(staff)) == {"OPEN-1", "RESTRICTED-1"} and staff.total == 2
    assert staff.facets == {"library": {"HD-TV": 1, "VP-LT": 1}, "category": {"dia_chi": 1, "rare": 1},
                            "language": {"vie": 2}}
    everyone = search.search(session, "quynh loi", {"open", "restricted", "secret"})
    assert set(found(everyone)) == {"OPEN-1", "RESTRICTED-1"} and everyone.total == 2
    for result in (public, staff, everyone):
        shown = repr(result)
        assert "SECRET" not in shown and "PY-TV" not in shown and "mật" not in shown and "endogenous" not in shown
    for query in ("bi mat", "chi o day", "ho so mat so 7"):
        for tiers in ({"open"}, {"open", "restricted"}, {"secret"}, {"open", "restricted", "secret"}):
            result = search.search(session, query, tiers)
            assert result.hits == [] and result.total == 0 and result.facets == search.empty_facets()
    assert search.search(session, "quynh loi", set()).total == 0
    # a secret item leaves nothing in the index; an item made secret later is taken out
    assert session.execute(text("SELECT count(*) FROM search_items WHERE item_id = 'SECRET-1'")).scalar() == 0
    assert indexed_rows(session) == 4  # the open and the restricted item: a page and a record each
    index_item(session, book("OPEN-1", f"Làng {rare} mở.", access="secret"))
    assert find(session, "quynh loi") == []
    assert session.execute(text("SELECT count(*) FROM search_items WHERE access NOT IN ('open', 'restricted')"
                                )).scalar() == 0


# ---- hostile queries --------------------------------------------------------------------------

HOSTILE = ['"', '""', '"""', 'NEAR(a b)', 'NEAR(', 'a OR', 'OR', 'AND', 'NOT', '*', 'hai*', '-x', '-', 'col:x',
           'folded:hai', 'exact : "hai"', "'", "''", "\\", "\\'", '(', ')', '())', '{exact}: hai', '^hai', 'hai +',
           'a & b | !c', "a <-> b", "'hai':*", "hai:A", "x\x00y", "\x02\x03", "ꙮ", "\U0001F600", "_", "%", "a_b",
           "a" * 2000, "hải " * 700, " ".join(f"w{n}" for n in range(400)), '"' * 2000, "đ" * 199 + " hai",
           '"' + "hai duong " * 200 + '"', "SELECT * FROM search_items; --", "$1", ":folded", "?"]


def test_hostile_queries_never_raise(session):
    index_item(session, book("HD-1", "Tỉnh Hải Dương: near a b, col x, or hai."))
    for query in HOSTILE:
        for tiers in ({"open"}, {"open", "restricted"}):
            result = search.search(session, query, tiers)
            assert isinstance(result.total, int) and len(result.hits) == min(result.total, 20), query
    assert find(session, "NEAR(a b)") == ["HD-1"]  # operators typed by a reader are words
    assert find(session, "col:x -or") == ["HD-1"]
    assert find(session, '"hai duong') == ["HD-1"]  # an unbalanced quote is ignored
    assert find(session, "") == [] and find(session, "   ") == [] and find(session, "*:-()") == []
    assert search.search(session, "hai", {"open"}, page=0, page_size=10_000).page_size == search.LARGEST_PAGE_SIZE


# ---- the migration ----------------------------------------------------------------------------

def test_the_migration_goes_down_and_up_again(database):
    from alembic import command
    from alembic.config import Config

    from digitize.ledger import database as ledger

    config = Config()
    config.set_main_option("script_location", str(ledger.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.replace("%", "%%"))
    with ledger_session(database):  # made at the newest revision, whichever test ran first
        pass
    command.downgrade(config, "0005")
    with ledger_session(database) as session:  # upgraded again on opening
        assert ledger.current_revision(session.get_bind()) == ledger.newest_revision()
        index_item(session, book("UP", "Đắk Nông"))
        assert find(session, "dak nong") == ["UP"]
