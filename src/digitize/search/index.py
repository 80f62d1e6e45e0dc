"""Full-text search of the collection: the words of every page and of every item's record, in the
ledger's database (an FTS5 table on SQLite, tsvector columns with GIN indexes on PostgreSQL; the
same behaviour on both). Pure library code: the web layer escapes what it shows.

Folding. Readers type Vietnamese with or without its marks ("hai duong" for "Hải Dương", "dak
nong" for "Đắk Nông" and "Đăk Nông"). ``fold(text)`` is the text in NFC, lower-cased, with every
combining diacritic taken off (tones and vowel marks: ắ→a, ơ→o, ư→u) and đ→d; ``tokens(text)``
its words (runs of letters and digits), as the index matches them; ``words(text)`` the words as
printed (NFC, lower case).

Indexing (each call commits):

    index_item(session, IndexedItem(library, item_id, access, category, language="", date="",
               title="", creators=[], subjects=[], places=[], call_number="", pages=[(1, text), ...]))
    remove_item(session, library, item_id) -> bool   # a withdrawn item; False if it was not indexed
    replace_page(session, library, item_id, page, text) -> bool  # one page's new text (a correction)
    item_pages(session, library, item_id, query) -> [page, ...] or None  # where a search inside it looks
    clear(session, library=None)                     # one library's items, or all
    optimize(session)                                # after indexing many items

``index_item`` replaces whatever the index held for the item (a new version's text replaces the
old). An item is indexed as one row per page with words (its number, from 1) and one row for its
record (title, creators, subjects, places, call number). A `secret` item is never indexed:
``index_item`` removes it instead. Call ``index_item`` again whenever an item's text, metadata or
access changes, and ``remove_item`` when it is withdrawn.

Searching:

    search(session, query, tiers, library=None, category=None, language=None, year_from=None,
           year_to=None, page=1, page_size=20) -> SearchResult(hits, total, facets, page, page_size, more)

- ``query``: words, all of which must be on one page (or all in the item's record); a phrase in
  double quotes matches only its words together and in order. Anything else a reader types
  (operators, `*`, `-`, `:`, parentheses, an odd quote) is taken as words or left out: a query
  never raises. A query without words finds nothing; only its first 32 words count, and words
  over 200 characters are not searchable.
- A word matches every accented form of it (the folded forms are compared). When the query has
  marks, the rows holding its accented words as typed rank above those that match only folded
  ("Đắk Nông" puts pages printed "Đắk Nông" before "Đăk Nông" and "dak nong"); within that, by
  relevance: PostgreSQL's ts_rank_cd; FTS5's bm25 over the words (and pairs of words of the
  phrases) on fewer than RARE_WORD_ROWS rows, as bm25 gives the others no weight but would count
  all their rows first (see ``_sqlite_matched``).
- ``tiers``: the access values the asker may see, {"open"} for the public, {"open", "restricted"}
  for staff and reading rooms. `secret` is never searched, whatever ``tiers`` says.
  ``record_tiers``: the access values whose items are found by their record only (title,
  creators, subjects, places, call number), never by their pages: {"restricted"} for the public,
  whose hits then have ``page`` None and a snippet of the record. ``unlisted``: libraries whose
  items of ``record_tiers`` are not found at all (their restricted records kept unlisted).
- Filters (combined with AND): library, category, language, the item's year between
  ``year_from`` and ``year_to`` (an item without a year is then left out).
- One hit per item (``Hit``), best first: the item's best matching page (``page``; None when only
  its record matched), how many of its pages matched (``pages_matched``), and a ``snippet`` of
  about 20 words around the first match on that page: a list of (text, matched) parts with the
  matched words as printed ("Hải Dương" for "hai duong"; ``marked`` joins them with \\x02/\\x03
  around the matches). The snippet is plain text: escaping it is the caller's job.
- ``total``: the number of matching items (the reader's "N results"), shown ``page_size`` a page.
  ``facets``: {"library": {code: items}, "category": {...}, "language": {...}}, over the same matches
  (all the filters applied, within the tiers).
- At most ``CANDIDATES`` (500) matching rows (pages and records) are ranked, so a word on nearly
  every page costs little more than a rare one: when more match, ``more`` is True, the hits are
  the best of the first 500 rows in the index's order, and ``total`` and ``facets`` count those
  (lower bounds: "more than N results"). Snippets are made only for the hits shown.

Storage. ``search_items`` holds what the filters need (library, item id, access, category,
language, year, title). SQLite: the FTS5 table ``search_text``, whose rowid is the item's row id *
2**20 + the page number (0: the record), with the columns ``exact`` (the text as printed, which the
snippets show), ``folded`` (``fold`` of it) and ``pairs`` (``pairs`` of its tokens: a phrase is
looked for only on the rows holding its pairs of words, which are rare even when its words are
not); tokenizer unicode61 without its own diacritic removal. PostgreSQL: ``search_pages`` (item,
page, text, and the tsvectors ``folded`` with positions, ``exact`` and ``pairs`` without), made
here from ``tokens`` and ``words``, so the server's parser and locale play no part; GIN indexes on
``folded`` and ``pairs``; ``folded``, which a search reads on every page it checks, is kept in the
row (compressed), not apart in TOAST.

Limits: words are runs of letters and digits, so a run of Hán characters without spaces is one
word (Chinese script is not segmented).
"""

from __future__ import annotations

import math
import re
import json
from collections.abc import Collection
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from digitize.core.query import (LONGEST_WORD, MOST_QUERY_WORDS, Query, best_passage, fold_word,  # noqa: F401
                                  has_marks, occurrences, pairs, parse, passages, tokens, words)
from digitize.core.vietnamese import fold
from digitize.ledger.database import answering

TABLES = ("search_pages", "search_text", "search_items")  # the index's (FTS5 keeps its own beside search_text)
SEARCHABLE_TIERS = frozenset({"open", "restricted"})  # secret items are never indexed nor searched
SNIPPET_WORDS = 20
SNIPPET_BEFORE = 8  # words shown before the first match
LARGEST_PAGE_SIZE = 100
# matching rows (pages, records) ranked at most: a query's time stays bounded (on PostgreSQL a search
# of common words takes about twice as long with 1,000: bench/README.md)
CANDIDATES = 500
# PostgreSQL (_postgres_ways): reading a page's words in order costs about as much as this many
# entries of the GIN index's lists (1.9 and 0.45 microseconds measured on a million pages)
READ_PAGE_COST = 4
NARROW_SHARE = 0.25  # the most of the pages the listed items hold for the GIN's rows to be narrowed by them
PREFIX_SHARE = 4  # pages read in order at most: this many times the pages it should take
MOST_LISTS_ESTIMATED = 8  # the GIN lists (words, pairs) whose length is asked of the planner
RARE_WORD_ROWS = 20_000  # SQLite: a word on fewer rows weighs in bm25 (which counts all its rows)
PAGE_BITS = 20  # on SQLite an FTS5 rowid is the item's search_items id * 2**20 + the page number
MOST_PAGES = (1 << PAGE_BITS) - 1
NOT_EXACT = 1_000_000.0  # added to the rank of a row that matches only folded: after every exact one
# added to the rank of a row whose words do not stand together as typed (a name typed as words): after
# every row holding them side by side, exact or not
APART = 10 * NOT_EXACT
# an indexed item is found only while the ledger holds it stored, not withdrawn and with the same
# access: an index a failed update left behind never shows what has since been closed (checked on
# the matched items only: the rows of such an item only take room among the CANDIDATES)
LEDGER_AGREES = ("EXISTS (SELECT 1 FROM items AS it WHERE it.library = i.library AND it.item_id = i.item_id "
                 "AND it.access = i.access AND it.status = 'ok' AND it.withdrawn IS NULL)")
# PostgreSQL's planner, for a search: it does not count the cost of unpacking each row's
# tsvector, so for common words and a LIMIT it would read the whole table instead of the GIN
# index, or look the index up once per item; a statement prepared by the driver (after 5 runs)
# may get a generic plan that ignores the words; compiling a plan (JIT) costs more than the
# search; and with the default work_mem the GIN index's bitmap of a common word turns lossy, so
# that every row of its pages is read and its words unpacked again
PLANNER = {"enable_seqscan": "off", "enable_nestloop": "off", "plan_cache_mode": "force_custom_plan",
           "jit": "off", "work_mem": "64MB", "max_parallel_workers_per_gather": "0"}
# PostgreSQL keeps positions up to 16383 and 256 of them per word
_LAST_POSITION = 16383
_MOST_POSITIONS = 256
_WORD = re.compile(r"[^\W_]+")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_SPACE = re.compile(r"\s+")


# ---- the API's values ------------------------------------------------------------------------

@dataclass
class IndexedItem:
    """What the index holds of an item. ``date``: the year (or a date starting with it) or ''.
    ``pages``: (page number from 1, text) for each page."""

    library: str
    item_id: str
    access: str
    category: str
    language: str = ""
    date: str = ""
    title: str = ""
    creators: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    call_number: str = ""
    pages: list[tuple[int, str]] = field(default_factory=list)

    def record(self) -> str:
        """The text of the item's record: what a query on the metadata matches."""
        return "\n".join([self.title, *self.creators, *self.subjects, *self.places, self.call_number])

    def year(self) -> int | None:
        found = _YEAR.search(str(self.date or ""))
        return int(found.group(1)) if found else None


@dataclass
class Hit:
    library: str
    item_id: str
    title: str
    page: int | None  # the best matching page; None when only the item's record matched
    snippet: list[tuple[str, bool]]  # (text, matched) parts, the matched words as printed
    pages_matched: int = 0
    access: str = "open"  # the item's access tier (a restricted one is read at the library)


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int  # matching items
    facets: dict[str, dict[str, int]]  # {"library": {code: items}, "category": {...}, "language": {...}}
    page: int = 1
    page_size: int = 20
    more: bool = False  # more rows matched than were ranked (CANDIDATES): total and facets are lower bounds

    @property
    def pages(self) -> int:
        """How many pages of hits there are."""
        return math.ceil(self.total / self.page_size) if self.page_size else 0


FACETS = ("library", "category", "language")


def empty_facets() -> dict[str, dict[str, int]]:
    return {name: {} for name in FACETS}


# ---- indexing --------------------------------------------------------------------------------

def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _clean(value: str) -> str:
    """NFC, without NUL (PostgreSQL refuses it in text)."""
    return unicodedata.normalize("NFC", value or "").replace("\x00", " ")


def tsvector(word_list: list[str], positions: bool = True) -> str:
    """A tsvector literal of the words, quoted, with their positions (from 1) or without (only
    which words are there): PostgreSQL's parser and its locale never see the words, so both
    engines split text into the same words."""
    if not positions:
        return " ".join(_quoted(word) for word in dict.fromkeys(word_list))
    places: dict[str, list[int]] = {}
    for position, word in enumerate(word_list, start=1):
        places.setdefault(word, []).append(min(position, _LAST_POSITION))
    return " ".join(f"{_quoted(word)}:{','.join(map(str, sorted(set(found))[:_MOST_POSITIONS]))}"
                    for word, found in places.items())


def _quoted(word: str) -> str:
    """A lexeme quoted for tsvector and tsquery input."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _row_id(item_row: int, page: int) -> int:
    """An FTS5 rowid: the item's search_items id and the page number in one integer."""
    return (item_row << PAGE_BITS) | page


def index_item(session: Session, item: IndexedItem) -> None:
    """Put the item in the index in place of what it held for it; a secret item is removed."""
    numbers = [number for number, _ in item.pages]
    if (any(not isinstance(n, int) or not 1 <= n <= MOST_PAGES for n in numbers)
            or len(set(numbers)) != len(numbers)):
        raise ValueError(f"{item.library}/{item.item_id}: page numbers must be distinct, from 1 to {MOST_PAGES}")
    with answering(session):
        _remove(session, item.library, item.item_id)
        if item.access not in SEARCHABLE_TIERS:
            session.commit()
            return
        rows = [(0, _clean(item.record()))] + [(number, _clean(page_text)) for number, page_text in item.pages]
        rows = [(number, page_text) for number, page_text in rows if words(page_text)]  # blank pages: nothing
        item_row = session.execute(text(
            "INSERT INTO search_items (library, item_id, access, category, language, year, title, indexed_rows) "
            "VALUES (:library, :item_id, :access, :category, :language, :year, :title, :rows) RETURNING id"),
            {"library": item.library, "item_id": item.item_id, "access": item.access, "category": item.category,
             "language": item.language or "", "year": item.year(), "title": _clean(item.title),
             "rows": len(rows)}).scalar_one()
        if rows and _is_postgres(session):
            session.execute(text(
                "INSERT INTO search_pages (item, page, text, exact, folded, pairs) VALUES (:item, :page, :text, "
                "CAST(:exact AS tsvector), CAST(:folded AS tsvector), CAST(:pairs AS tsvector))"),
                [_postgres_row(item_row, number, page_text) for number, page_text in rows])
        elif rows:
            # the exact column is the text as printed (FTS5 lower-cases it), also shown in snippets
            session.execute(text("INSERT INTO search_text (rowid, exact, folded, pairs) "
                                 "VALUES (:id, :exact, :folded, :pairs)"),
                            [{"id": _row_id(item_row, number), "exact": page_text, "folded": fold(page_text),
                              "pairs": " ".join(pairs(tokens(page_text)))} for number, page_text in rows])
        session.commit()


def replace_page(session: Session, library: str, item_id: str, number: int, page_text: str,
                 commit: bool = True) -> bool:
    """Put page ``number``'s new text in the index in place of its old (a reviewer's correction),
    the rest of the item as it was; False (nothing done) when the item is not in the index. With
    ``commit`` False the caller's transaction carries it (and commits it with its own changes)."""
    if not 1 <= number <= MOST_PAGES:
        raise ValueError(f"{library}/{item_id}: page numbers must be from 1 to {MOST_PAGES}")
    with answering(session):
        item_row = session.execute(text("SELECT id FROM search_items WHERE library = :library AND item_id = :item_id"),
                                   {"library": library, "item_id": item_id}).scalar()
        if item_row is None:
            return False
        page_text = _clean(page_text)
        row = [(number, page_text)] if words(page_text) else []
        if _is_postgres(session):
            removed = session.execute(text("DELETE FROM search_pages WHERE item = :item AND page = :page"),
                                      {"item": item_row, "page": number}).rowcount
            if row:
                session.execute(text(
                    "INSERT INTO search_pages (item, page, text, exact, folded, pairs) VALUES (:item, :page, :text, "
                    "CAST(:exact AS tsvector), CAST(:folded AS tsvector), CAST(:pairs AS tsvector))"),
                    [_postgres_row(item_row, number, page_text)])
        else:
            removed = session.execute(text("DELETE FROM search_text WHERE rowid = :id"),
                                      {"id": _row_id(item_row, number)}).rowcount
            if row:
                session.execute(text("INSERT INTO search_text (rowid, exact, folded, pairs) "
                                     "VALUES (:id, :exact, :folded, :pairs)"),
                                {"id": _row_id(item_row, number), "exact": page_text, "folded": fold(page_text),
                                 "pairs": " ".join(pairs(tokens(page_text)))})
        session.execute(text("UPDATE search_items SET indexed_rows = indexed_rows + :change WHERE id = :item"),
                        {"change": len(row) - max(removed, 0), "item": item_row})
        if commit:
            session.commit()
    return True


def _postgres_row(item_row: int, number: int, page_text: str) -> dict:
    folded = tokens(page_text)
    return {"item": item_row, "page": number, "text": page_text, "folded": tsvector(folded),
            "exact": tsvector(words(page_text), positions=False), "pairs": tsvector(pairs(folded), positions=False)}


def _remove(session: Session, library: str, item_id: str) -> bool:
    found = session.execute(text("SELECT id FROM search_items WHERE library = :library AND item_id = :item_id"),
                            {"library": library, "item_id": item_id}).scalar()
    if found is None:
        return False
    if _is_postgres(session):
        session.execute(text("DELETE FROM search_pages WHERE item = :item"), {"item": found})
    else:
        session.execute(text("DELETE FROM search_text WHERE rowid BETWEEN :first AND :last"),
                        {"first": _row_id(found, 0), "last": _row_id(found, MOST_PAGES)})
    session.execute(text("DELETE FROM search_items WHERE id = :item"), {"item": found})
    return True


def remove_item(session: Session, library: str, item_id: str) -> bool:
    """Take the item out of the index (withdrawn); False if it was not in it."""
    with answering(session):
        removed = _remove(session, library, item_id)
        session.commit()
    return removed


def clear(session: Session, library: str | None = None) -> None:
    """Empty the index, or take one library's items out of it."""
    items = "SELECT id FROM search_items" + (" WHERE library = :library" if library is not None else "")
    params = {"library": library} if library is not None else {}
    with answering(session):
        if _is_postgres(session):
            session.execute(text(f"DELETE FROM search_pages WHERE item IN ({items})"), params)
        elif library is None:
            session.execute(text("DELETE FROM search_text"))
        else:
            session.execute(text(f"DELETE FROM search_text WHERE (rowid >> {PAGE_BITS}) IN ({items})"), params)
        session.execute(text(f"DELETE FROM search_items WHERE id IN ({items})"), params)
        session.commit()


def optimize(session: Session) -> None:
    """Make the index quick to read after many items were indexed (a batch, a rebuild): FTS5 merges
    its segments into one; PostgreSQL vacuums the index's tables (the GIN indexes' pending entries
    moved into them, the rows marked visible once and for all, so that the first searches do not
    write) and gathers the statistics its planner needs."""
    with answering(session):
        if _is_postgres(session):
            session.commit()
            with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM (ANALYZE) search_items, search_pages"))
        else:
            session.execute(text("INSERT INTO search_text (search_text) VALUES ('optimize')"))
            session.commit()


# ---- the query -------------------------------------------------------------------------------

def fts5_query(column: str, units: list[list[str]]) -> str:
    """An FTS5 query: every word or phrase a quoted string on the column, joined by AND (a quoted
    string is never an operator, a column name or a prefix)."""
    return " AND ".join(f'{column} : "{" ".join(w.replace(chr(34), chr(34) * 2) for w in unit)}"'
                        for unit in units)


def tsquery(units: list[list[str]]) -> str:
    """A tsquery of quoted lexemes: phrases with <->, joined by &."""
    return " & ".join("(" + " <-> ".join(_quoted(w) for w in unit) + ")" for unit in units)


def search(session: Session, query: str, tiers: set[str], library: str | None = None,
           category: str | None = None, language: str | None = None, year_from: int | None = None,
           year_to: int | None = None, page: int = 1, page_size: int = 20,
           record_tiers: Collection[str] = (), unlisted: Collection[str] = ()) -> SearchResult:
    """The items whose pages (or record) hold the query's words, one page of them, best first,
    with the total and the facets (module docstring)."""
    page = max(1, int(page))
    page_size = min(max(1, int(page_size)), LARGEST_PAGE_SIZE)
    result = SearchResult(hits=[], total=0, facets=empty_facets(), page=page, page_size=page_size)
    parsed = parse(query)
    allowed = sorted(set(tiers or ()) & SEARCHABLE_TIERS)
    records_only = sorted(set(record_tiers or ()) & SEARCHABLE_TIERS - set(allowed))
    if not parsed.folded or not (allowed or records_only):
        return result
    postgres = _is_postgres(session)
    params: dict = {"tiers": allowed + records_only, "candidates": CANDIDATES}
    conditions = ["i.access IN :tiers"]
    if records_only:
        params["records_only"] = records_only
        if unlisted:
            params["unlisted"] = sorted(unlisted)
            conditions.append("(i.access NOT IN :records_only OR i.library NOT IN :unlisted)")
    for name, value, condition in (("library", library, "i.library = :library"),
                                   ("category", category, "i.category = :category"),
                                   ("language", language, "i.language = :language"),
                                   ("year_from", year_from, "i.year >= :year_from"),
                                   ("year_to", year_to, "i.year <= :year_to")):
        if value is not None and value != "":
            conditions.append(condition)
            params[name] = int(value) if name.startswith("year") else value
    where = " AND ".join(conditions)
    with answering(session):
        # the items found by their record only: of their rows, the record's (page 0) alone
        ways = (_postgres_ways(session, parsed, where, params) if postgres else
                [Way(_sqlite_matched(session, parsed, where + (
                    f" AND (i.access NOT IN :records_only OR search_text.rowid & {MOST_PAGES} = 0)"
                    if records_only else ""), params))])
        together = _together_rows(session, parsed, where, params, postgres)
        ways = [_with_together(way, together, postgres, params) for way in ways]
        for way in ways:  # the next way only when this one may have missed rows
            items = _ranked_items(session, way, params)
            matched_rows = sum(row.item_rows for row in items)
            if matched_rows >= CANDIDATES:
                break
        shown = items[(page - 1) * page_size:page * page_size]
        texts = _texts(session, [row.row_id for row in shown], postgres)
    result.total = len(items)
    result.more = matched_rows >= CANDIDATES
    for row in items:
        for name in FACETS:
            value = getattr(row, name)
            if value:
                result.facets[name][value] = result.facets[name].get(value, 0) + 1
    result.hits = [Hit(library=row.library, item_id=row.item_id, title=row.title, page=row.page or None,
                       pages_matched=int(row.pages_matched or 0), access=row.access,
                       snippet=snippet(texts.get(row.row_id, ""), parsed)) for row in shown]
    return result


def _together_rows(session: Session, parsed: Query, where: str, params: dict, postgres: bool) -> list[tuple]:
    """The rows (row id, item, page, rank key, apart) that match the query and hold pairs of its words
    side by side in the order typed (through the index of pairs: rare even when the words are not):
    those holding every pair, or else those holding any, at most CANDIDATES. ``apart``:
    APART times the share of the pairs a row lacks; the rank key: NOT_EXACT unless the row holds the
    marked words as typed. Whether or not the ranked candidates reach them, they rank before every
    row holding none of the pairs, those holding all first."""
    together = parsed.together
    if not together:
        return []
    records_only = "records_only" in params  # items found by their record alone: of their rows, page 0 only
    folded = tsquery(parsed.folded) if postgres else fts5_query("folded", parsed.folded)
    rows: dict[int, tuple[int, int]] = {}
    for joined in (" & ", " | ") if postgres else (" AND ", " OR "):
        if postgres:
            asked = {**params, "folded": folded,
                     "together": joined.join(f"({tsquery([[pair]])})" for pair in together)}
            found = session.execute(_statement(
                "SELECT p.id, p.item, p.page FROM search_pages AS p JOIN search_items AS i ON i.id = p.item "
                "WHERE p.pairs @@ CAST(:together AS tsquery) AND ts_match_vq(p.folded, CAST(:folded AS tsquery)) "
                f"AND {where}{' AND (i.access NOT IN :records_only OR p.page = 0)' if records_only else ''} "
                "LIMIT :candidates"), asked).all()
        else:
            any_or_all = joined.join(fts5_query("pairs", [[pair]]) for pair in together)
            asked = {**params, "together": f"{folded} AND ({any_or_all})"}
            found = session.execute(_statement(
                f"SELECT search_text.rowid, search_text.rowid >> {PAGE_BITS}, search_text.rowid & {MOST_PAGES} "
                f"FROM search_text CROSS JOIN search_items AS i WHERE search_text MATCH :together "
                f"AND i.id = search_text.rowid >> {PAGE_BITS} AND {where}"
                f"{f' AND (i.access NOT IN :records_only OR search_text.rowid & {MOST_PAGES} = 0)' if records_only else ''}"
                " LIMIT :candidates"), asked).all()
        for row_id, item, page in found:
            rows.setdefault(int(row_id), (int(item), int(page)))
        if rows or len(together) == 1:  # rows holding every pair: those holding some matter no more
            break
    if not rows:
        return []
    held = {row_id: 0 for row_id in rows}
    as_typed = set(rows) if not parsed.exact else set()
    ids = sorted(rows)
    if postgres:
        checks = [f"CASE WHEN p.pairs @@ CAST(:pair{n} AS tsquery) THEN 1 ELSE 0 END" for n in range(len(together))]
        asked = {f"pair{n}": tsquery([[pair]]) for n, pair in enumerate(together)}
        exact = "true"
        if parsed.exact:
            asked["exact"] = tsquery(parsed.exact)
            exact = "p.exact @@ CAST(:exact AS tsquery)"
        for row_id, count, typed in session.execute(text(
                f"SELECT p.id, {' + '.join(checks)}, {exact} FROM search_pages AS p "
                "WHERE p.id = ANY(CAST(:ids AS bigint[]))"), {**asked, "ids": _int_array(ids)}).all():
            held[row_id] = count
            if typed:
                as_typed.add(row_id)
    else:
        among = {"first": ids[0], "last": ids[-1]}
        terms = [fts5_query("pairs", [[pair]]) for pair in together]
        if parsed.exact:
            terms.append(fts5_query("exact", parsed.exact))
        for n, term in enumerate(terms):
            holding = set(session.execute(text("SELECT rowid FROM search_text WHERE search_text MATCH :term AND "
                                               "rowid BETWEEN :first AND :last"),
                                          {**among, "term": term}).scalars())
            for row_id in holding & held.keys():
                if n < len(together):
                    held[row_id] += 1
                else:
                    as_typed.add(row_id)
    return [(row_id, item, page, 0.0 if row_id in as_typed else NOT_EXACT,
             APART * (len(together) - held[row_id]) / len(together))
            for row_id, (item, page) in rows.items() if held[row_id]]


def _with_together(way: Way, together: list[tuple], postgres: bool, params: dict) -> Way:
    """The way's `matched` rows with the rows holding the words together put first (each row once,
    at its best rank)."""
    if not together:
        return way
    found = way.matched.replace("matched AS (", "found AS (", 1)
    if postgres:
        given = ("SELECT row_id, item, page, rank_key, apart FROM jsonb_to_recordset(CAST(:together_json AS jsonb)) "
                 "AS t(row_id bigint, item integer, page integer, rank_key double precision, apart double precision)")
    else:
        given = ("SELECT json_extract(value, '$[0]') AS row_id, json_extract(value, '$[1]') AS item, "
                 "json_extract(value, '$[2]') AS page, json_extract(value, '$[3]') AS rank_key, "
                 "json_extract(value, '$[4]') AS apart FROM json_each(:together_json)")
    params["together_json"] = json.dumps(
        [dict(zip(("row_id", "item", "page", "rank_key", "apart"), row)) for row in together] if postgres else
        [list(row) for row in together])
    # a row found both ways keeps the rank the way gave it (relevance), with its own share of APART
    return Way(f"{found}, both_ways AS (SELECT row_id, item, page, min(CASE WHEN together = 0 THEN rank_key END) "
               "AS found_rank, min(CASE WHEN together = 1 THEN rank_key END) AS given_rank, "
               f"min(CASE WHEN together = 1 THEN apart ELSE {APART} END) AS apart "
               "FROM (SELECT row_id, item, page, rank_key, 0.0 AS apart, 0 AS together FROM found UNION ALL "
               f"SELECT row_id, item, page, rank_key, apart, 1 AS together FROM ({given}) AS given) AS rows_found "
               "GROUP BY row_id, item, page), "
               "matched AS (SELECT row_id, item, page, coalesce(found_rank, given_rank) + apart AS rank_key "
               "FROM both_ways)", way.settings, way.items)


@dataclass
class Way:
    """One way to find the `matched` rows: the CTE, and on PostgreSQL the planner settings for it
    and the items (search_items ids) whose pages it searches."""

    matched: str
    settings: dict[str, str] = field(default_factory=dict)
    items: list[int] | None = None


def _ranked_items(session: Session, way: Way, params: dict) -> list:
    """One row per matched item: its best row (a page before the record), the items ranked by
    their best row."""
    if way.settings:
        before = session.execute(text("SELECT " + ", ".join(
            f"current_setting('{name}'), set_config('{name}', '{value}', true)"
            for name, value in way.settings.items()))).one()[::2]
    items = session.execute(_statement(
        f"WITH {way.matched}, "
        "ranked AS (SELECT row_id, item, page, row_number() OVER item_rows AS n, "
        "min(rank_key) OVER item_rows AS item_rank, count(*) OVER item_rows AS item_rows, "
        "sum(CASE WHEN page > 0 THEN 1 ELSE 0 END) OVER item_rows AS pages_matched FROM matched "
        "WINDOW item_rows AS (PARTITION BY item ORDER BY page = 0, rank_key, page "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) "
        "SELECT r.row_id, r.page, r.pages_matched, r.item_rows, i.library, i.category, i.language, i.item_id, "
        "i.title, i.access "
        f"FROM ranked AS r JOIN search_items AS i ON i.id = r.item WHERE r.n = 1 AND {LEDGER_AGREES} "
        "ORDER BY r.item_rank, i.library, i.item_id"),
        {**params, "items": _int_array(way.items)}).all()
    if way.settings:
        session.execute(text("SELECT " + ", ".join(f"set_config('{name}', :v{n}, true)"
                                                   for n, name in enumerate(way.settings))),
                        {f"v{n}": value for n, value in enumerate(before)})
    return items


def _int_array(numbers: list[int] | None) -> str | None:
    """A PostgreSQL array literal of the numbers: psycopg would look at each one of thousands."""
    return None if numbers is None else "{" + ",".join(map(str, numbers)) + "}"


LIST_PARAMETERS = ("tiers", "records_only", "unlisted")


def _statement(sql: str):
    """A statement whose :tiers, :records_only and :unlisted (those it has) are lists."""
    statement = text(sql)
    expanding = [bindparam(name, expanding=True) for name in LIST_PARAMETERS if f":{name}" in sql]
    return statement.bindparams(*expanding) if expanding else statement


def _postgres_ways(session: Session, parsed: Query, where: str, params: dict) -> list[Way]:
    """The ways to find the `matched` rows on PostgreSQL, to be tried in turn: at most CANDIDATES
    rows, ranked by ts_rank_cd, those holding the accented words as typed first.

    The items the asker may see and the filters leave are given to the search of the pages as a
    list, so that it stops at CANDIDATES rows (a join with the items would read every matching
    row first). Their pages are found one of two ways:

    - in order: the items' pages read one after another (through the index of the pages' items,
      or the whole table in its order when the items hold more than NARROW_SHARE of it), their
      words checked, until CANDIDATES match. It costs about READ_PAGE_COST entries of a GIN list
      a page, for as many pages as it takes: the planner's estimate of how many match says how
      many.
    - through the GIN index: it reads the lists of the rows holding each word (of each pair of
      words, for a phrase), long for a common word, then the matching rows. The lists of the
      rows of the listed items narrow them when those hold at most NARROW_SHARE of the pages
      (a list of most of the pages takes longer to make than the rows it leaves out take to read).

    The cheaper one is taken. Read in order, the pages searched are those of the first listed
    items up to PREFIX_SHARE times the pages it should take: if the estimate was too hopeful and
    not all the items were searched, the GIN index is searched next (``search`` tries it when the
    first way found fewer than CANDIDATES rows).

    PostgreSQL's planner would choose itself, but it takes checking a page's words to cost next
    to nothing while they must be read and unpacked (a microsecond or more), and the GIN index's
    long lists for its common words to cost little: left alone, it reads 30,000 pages for two
    words on 3 % of them rather than the GIN index's short list, or makes a list of all the pages
    to narrow a short one."""
    record_only = "i.access IN :records_only" if "records_only" in params else "false"
    listed = session.execute(_statement(
        f"SELECT i.id, CASE WHEN {record_only} THEN 1 ELSE i.indexed_rows END, {record_only} "
        f"FROM search_items AS i WHERE {where} ORDER BY i.id"), params).all()
    records = [item for item, _, record in listed if record]  # found by their record (page 0) only
    if records:
        params["record_items"] = _int_array(records)
    listed = [(item, item_rows) for item, item_rows, _ in listed]
    params["folded"] = tsquery(parsed.folded)
    rank = "-CAST(ts_rank_cd(p.folded, CAST(:folded AS tsquery), 1) AS double precision)"
    if parsed.exact:
        params["exact"] = tsquery(parsed.exact)
        rank += f" + CASE WHEN p.exact @@ CAST(:exact AS tsquery) THEN 0.0 ELSE {NOT_EXACT} END"
    if not parsed.pairs:
        found = "p.folded @@ CAST(:folded AS tsquery)"
        lists = [tsquery([unit]) for unit in parsed.folded]  # the GIN lists read: one a word
    else:
        # a phrase's pairs of words are far rarer than its words: the GIN index of the pairs gives
        # the rows, and the words are checked on those rows only (ts_match_vq is @@ that the planner
        # does not take to the index of the words, whose list for a common word is long to read)
        params["pairs"] = tsquery([[pair] for pair in parsed.pairs])
        found = "p.pairs @@ CAST(:pairs AS tsquery) AND ts_match_vq(p.folded, CAST(:folded AS tsquery))"
        lists = [tsquery([[pair]]) for pair in parsed.pairs]  # one a pair of words

    def way(settings: dict[str, str], items: list[int], through_items_index: bool = True) -> Way:
        on_items = ("p.item = ANY(CAST(:items AS integer[]))" if through_items_index else
                    "p.item + 0 = ANY(CAST(:items AS integer[]))")  # + 0: not through the index of the items
        if records:
            on_items += " AND (p.page = 0 OR p.item <> ALL(CAST(:record_items AS integer[])))"
        return Way(f"matched AS (SELECT p.id AS row_id, p.item AS item, p.page AS page, {rank} AS rank_key "
                   f"FROM search_pages AS p WHERE {found} AND {on_items} LIMIT :candidates)",
                   {**PLANNER, **settings}, items)

    ids = [item for item, _ in listed]
    rows = sum(item_rows for _, item_rows in listed)
    in_order = {"enable_bitmapscan": "off"}  # through the index of the pages' items
    # the whole table in its order (quicker than through an index): the same order every time
    in_table_order = {"enable_bitmapscan": "off", "enable_indexscan": "off", "enable_seqscan": "on",
                      "synchronize_seqscans": "off"}
    pages = session.execute(text("SELECT reltuples FROM pg_class WHERE oid = CAST('search_pages' AS regclass)")).scalar()
    if not ids or not pages or pages <= 0:  # nothing to search, or never analysed (a small index)
        return [way(in_order, ids)]
    narrow = rows <= pages * NARROW_SHARE
    to_read = min(rows, CANDIDATES * pages / _estimate(session, f"SELECT 1 FROM search_pages AS p WHERE {found}", params))
    # the GIN index goes through its lists as far as the shortest one leads it (it skips the rest)
    shortest = min(_estimate(session, "SELECT 1 FROM search_pages AS p WHERE "
                             f"p.{'pairs' if parsed.pairs else 'folded'} @@ CAST(:list AS tsquery)",
                             {"list": entry}) for entry in lists[:MOST_LISTS_ESTIMATED])
    through_gin = way({"enable_indexscan": "off"}, ids, narrow)
    if to_read * READ_PAGE_COST > shortest * len(lists):
        return [through_gin]
    taken = 0
    for n, (_, item_rows) in enumerate(listed):
        if n and taken + item_rows > to_read * PREFIX_SHARE:
            return [way(in_order, ids[:n]), through_gin]
        taken += item_rows
    return [way(in_order, ids) if narrow else way(in_table_order, ids, False)]


def _estimate(session: Session, statement: str, params: dict) -> float:
    """The planner's estimate of the rows a statement gives (at least 1)."""
    plan = session.execute(text(f"EXPLAIN (FORMAT JSON) {statement}"), params).scalar()
    return max(float(plan[0]["Plan"]["Plan Rows"]), 1.0)


def _rows_holding(session: Session, term: str) -> int:
    """On how many rows an FTS5 term (one word of a column) is, counted up to RARE_WORD_ROWS."""
    return session.execute(text("SELECT count(*) FROM (SELECT 1 FROM search_text WHERE search_text MATCH :term "
                                "LIMIT :most)"), {"term": term, "most": RARE_WORD_ROWS}).scalar()


def _sqlite_matched(session: Session, parsed: Query, where: str, params: dict) -> str:
    """The `matched` rows on SQLite. FTS5's bm25 first counts all the rows holding each word or
    phrase of the query: for a word on most pages that is a pass over most of the index, and tells
    nothing (bm25 gives such a word no weight). So only the words (and the pairs of words of the
    phrases) on fewer than RARE_WORD_ROWS rows rank the rows by bm25; the rest of the query only
    has to match too. When nothing is that rare, the rows are ranked by whether they hold the
    whether the row is the item's record (its title); the rows holding the query's words together come
    before both (``_together_rows``). Either
    way the rows that hold the accented words as typed come first, and at most CANDIDATES rows
    are taken, in the index's order. A phrase is looked for only where its pairs are."""
    word_terms = [fts5_query("folded", [unit]) for unit in parsed.folded if len(unit) == 1]
    pair_terms = [fts5_query("pairs", [[pair]]) for pair in parsed.pairs]
    params["folded"] = " AND ".join([fts5_query("folded", parsed.folded), *pair_terms])
    rare = [term for term in word_terms + pair_terms if _rows_holding(session, term) < RARE_WORD_ROWS]
    if rare:
        params["ranked_by"] = " AND ".join(rare)
        score = "bm25(search_text)"
        # the unary + keeps SQLite from looking the rows up one by one
        everything = ("" if not pair_terms and len(rare) == len(word_terms) else
                      " AND +search_text.rowid IN (SELECT rowid FROM search_text WHERE search_text MATCH :folded)")
    else:
        params["ranked_by"] = params["folded"]
        score = f"CASE WHEN search_text.rowid & {MOST_PAGES} = 0 THEN 0.0 ELSE 1.0 END"  # the record first
        everything = ""
    # CROSS JOIN keeps SQLite's order: the full-text match first, then each row's item
    matched = ("candidates AS MATERIALIZED (SELECT search_text.rowid AS row_id, "
               f"search_text.rowid >> {PAGE_BITS} AS item, search_text.rowid & {MOST_PAGES} AS page, "
               f"{score} AS score FROM search_text CROSS JOIN search_items AS i "
               f"WHERE search_text MATCH :ranked_by AND i.id = search_text.rowid >> {PAGE_BITS} AND {where}"
               f"{everything} LIMIT :candidates), ")
    # rows among the candidates holding more than the match asks (only the candidates' rowids are read)
    among = "rowid BETWEEN (SELECT min(row_id) FROM candidates) AND (SELECT max(row_id) FROM candidates)"
    rank = "score"
    if parsed.exact:
        params["exact"] = params["folded"] + " AND " + fts5_query("exact", parsed.exact)
        matched += (f"exact AS MATERIALIZED (SELECT rowid AS row_id FROM search_text WHERE search_text MATCH "
                    f":exact AND {among}), ")
        rank += f" + CASE WHEN row_id IN (SELECT row_id FROM exact) THEN 0.0 ELSE {NOT_EXACT} END"
    return matched + f"matched AS (SELECT row_id, item, page, {rank} AS rank_key FROM candidates)"


def item_pages(session: Session, library: str, item_id: str, query: str) -> list[int] | None:
    """The pages of one item that match the query as the collection's search matches them (every
    unit, folded; a phrase's words side by side), in order: where a search inside the item looks.
    None when the item is not in the index."""
    words_asked = parse(query).folded
    with answering(session):
        item_row = session.execute(text("SELECT id FROM search_items WHERE library = :library AND item_id = :item_id"),
                                   {"library": library, "item_id": item_id}).scalar()
        if item_row is None:
            return None
        if not words_asked:
            return []
        if _is_postgres(session):
            found = session.execute(text("SELECT page FROM search_pages WHERE item = :item AND page > 0 AND "
                                         "folded @@ CAST(:folded AS tsquery)"),
                                    {"item": item_row, "folded": tsquery(words_asked)}).scalars()
        else:
            found = session.execute(text(f"SELECT rowid & {MOST_PAGES} FROM search_text WHERE search_text MATCH :folded "
                                         "AND rowid BETWEEN :first AND :last"),
                                    {"folded": fts5_query("folded", words_asked), "first": _row_id(item_row, 1),
                                     "last": _row_id(item_row, MOST_PAGES)}).scalars()
        return sorted(found)


def _texts(session: Session, row_ids: list[int], postgres: bool) -> dict[int, str]:
    """The stored text of the rows shown (at most a page of hits)."""
    if not row_ids:
        return {}
    statement = ("SELECT id, text FROM search_pages WHERE id IN :ids" if postgres else
                 "SELECT rowid, exact FROM search_text WHERE rowid IN :ids")
    return dict(session.execute(text(statement).bindparams(bindparam("ids", expanding=True)),
                                {"ids": row_ids}).all())


# ---- snippets --------------------------------------------------------------------------------

def snippet(page_text: str, query: Query | list[list[str]], size: int = SNIPPET_WORDS) -> list[tuple[str, bool]]:
    """About ``size`` words of the text around the passage where most of the query's units stand
    together (the first such), as (text, matched) parts; whitespace shown as single spaces, "…" where
    the text goes on. ``query``: the parsed query, or its folded units."""
    found = [m.span() for m in _WORD.finditer(page_text)]
    if not found:
        return []
    parsed = query if isinstance(query, Query) else Query(folded=query, exact=[])
    folded = [fold_word(page_text[start:end]) for start, end in found]
    places = occurrences(parsed, folded)
    best = best_passage(places)
    # where the words stand together, only such passages are marked (not a lone "thiên" of "thiên nhiên")
    marked_passages = [p for p in passages(places) if best and len(p.units) >= len(best.units)]
    matched = {n for p in marked_passages for n in range(p.start, p.end)}
    first = best.start if best else 0
    start = max(0, first - SNIPPET_BEFORE)
    end = min(len(found), start + size)
    start = max(0, end - size)
    parts: list[tuple[str, bool]] = []

    def add(piece: str, is_match: bool) -> None:
        if not is_match:
            piece = _SPACE.sub(" ", piece)
        if parts and parts[-1][1] == is_match:
            parts[-1] = (parts[-1][0] + piece, is_match)
        elif piece:
            parts.append((piece, is_match))

    if start > 0:
        add("… ", False)
    for index in range(start, end):
        word_start, word_end = found[index]
        if index > start:
            gap = page_text[found[index - 1][1]:word_start]
            # a run of matched words separated by spaces is one part ("Hải Dương")
            joined = index in matched and index - 1 in matched and not gap.strip()
            add(" " if joined and gap else gap, joined)
        add(page_text[word_start:word_end], index in matched)
    if end < len(found):
        add(" …", False)
    return parts


def marked(parts: list[tuple[str, bool]], start: str = "\x02", end: str = "\x03") -> str:
    """A snippet as one string with the matched parts between ``start`` and ``end``."""
    return "".join(f"{start}{piece}{end}" if is_match else piece for piece, is_match in parts)
