#!/usr/bin/env python3
"""Full-text search benchmark (digitize.search.index) on SQLite and on PostgreSQL.

    .venv/bin/python bench/search.py [--pages 1000000] [--engine sqlite|postgresql|both] [--dir DIR]
        [--reuse] [--queries 200] [--seed 1] [--json PATH] [--pg-conf NAME=VALUE] [--pg-set NAME=VALUE]
    .venv/bin/python bench/search.py --findability [--findability-pages 12] [--findability-dpi 300]
        [--workers 2] [--keep] [--json PATH]

Index and query: builds an index of --pages pages of Vietnamese text, generated from the bundled
corpus (scripts/corpus/, bench/texts/: a Markov chain over its words, pages of 20-700 words, most
150-450, items of 20-400 pages in five libraries, four categories, four languages, years 1860-2023,
open, restricted and secret items, rare place and family names in both spellings sprinkled at low
rates, some OCR-like misspellings), with search.index_item, one item at a time, then
search.optimize. Prints the build time and rate (pages per second, with how the time splits between
generating the text, preparing it in Python and the database), the index size, then the p50, p95,
p99 and max latency of --queries mixed queries (single syllables, rare names, phrases quoted and
not, with and without diacritics, some with filters; top 20 with snippets, as the public sees
them), overall and per kind, and the slowest five. Target: p95 <= 100 ms on both engines.

The indexes are kept in --dir (the SQLite file, the PostgreSQL cluster's data folder): --reuse
measures the queries again on an index of that size and seed without building it.

--findability: renders --findability-pages pages with scripts/vnpages.py (level hard), runs the
pipeline on them (`digitize run`), indexes each page's OCR text as an item of its own and searches
every distinct ground-truth word of each page: the share found on its page, typed exactly (with
the diacritics) and typed folded. See bench/README.md for what the figures mean.

It prints numbers and never fails because a target was missed: it is not a test.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import pwd
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import text  # noqa: E402

from digitize.search import index as search  # noqa: E402
from digitize.ledger.database import Item, Library, open_ledger  # noqa: E402
from digitize.search.index import IndexedItem  # noqa: E402

CORPUS = sorted((ROOT / "scripts" / "corpus").glob("*.txt")) + sorted((ROOT / "bench" / "texts").glob("*.txt"))
DEFAULT_DIR = Path("/var/tmp/digitize-search-bench")
TIERS = {"open"}  # the public's view
TARGET_MS = 100.0

# ---- the generated collection ----------------------------------------------------------------

LIBRARIES = (("HD-TV", 30), ("VP-TV", 20), ("HN-TV", 25), ("DN-TV", 15), ("NLV", 10))
CATEGORIES = (("dia_chi", 35), ("rare", 15), ("endogenous", 15), ("other", 35))
LANGUAGES = (("vie", 85), ("fre", 5), ("chi", 5), ("eng", 5))  # the text is Vietnamese whatever it says
ACCESS = (("open", 75), ("restricted", 20), ("secret", 5))
# rare names as printed (one spelling or several), and on how many pages in a million each appears
NAMES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("Đắk Nông", "Đăk Nông"), 600),
    (("Buôn Ma Thuột", "Buôn Mê Thuột"), 400),
    (("Đắk Lắk", "Đắc Lắc", "Darlac"), 300),
    (("Thừa Thiên Huế",), 500),
    (("Hà Tiên",), 300),
    (("Kon Tum", "Kontum"), 200),
    (("Pleiku", "Plây Ku"), 150),
    (("làng Đông Ngạc", "làng Đông Ngạc (Kẻ Vẽ)"), 120),
    (("làng Phù Lưu",), 100),
    (("làng Mộ Trạch",), 80),
    (("làng Hành Thiện",), 80),
    (("làng Đường Lâm",), 60),
    (("xã Thanh Miện",), 60),
    (("làng Cổ Am",), 50),
    (("làng Hoàng Xá",), 40),
    (("thôn Lạc Khoái",), 30),
    (("Phạm Đình Hổ",), 100),
    (("Nguyễn Thị Duệ",), 60),
    (("Mạc Đĩnh Chi",), 80),
    (("Chu Văn An",), 120),
    (("Lê Hữu Trác", "Hải Thượng Lãn Ông"), 60),
    (("Phan Huy Chú",), 50),
    (("Đoàn Thị Điểm",), 40),
    (("Vũ Hữu",), 30),
    (("họ Nguyễn Đình",), 40),
    (("họ Vũ Hữu",), 20),
    (("dòng họ Trịnh Khả",), 15),
    (("Ê Đê", "Ê-đê", "Rhadé"), 25),
    (("Mường Thanh",), 20),
    (("Ỷ Lan",), 10),
    (("Đồng Khánh",), 10),
    (("Tuệ Tĩnh",), 8),
    (("Hoàng Ngũ Phúc",), 5),
)
SECRET_NAME = "Mậtbảnkỳlân"  # a word printed in the secret items only: no search may ever find it
PLACES = ("Cẩm Giàng", "Thanh Hà", "Gia Lộc", "Kinh Môn", "Chí Linh", "Vĩnh Tường", "Tam Đảo", "Lập Thạch",
          "Gia Nghĩa", "Krông Nô", "Cư Jút", "Đông Anh", "Sóc Sơn", "Từ Liêm", "Thường Tín", "Hoài Đức")
TITLE_WORDS = ("Địa chí", "Gia phả", "Hương ước", "Văn bia", "Thần tích", "Tục lệ", "Lịch sử Đảng bộ",
               "Báo cáo", "Kỷ yếu", "Tuyển tập", "Sổ địa bạ", "Truyện")
CREATORS = ("Nguyễn Văn Huyên", "Trần Quốc Vượng", "Phan Kế Bính", "Đào Duy Anh", "Hoàng Xuân Hãn",
            "Ban Tuyên giáo", "Ủy ban nhân dân tỉnh", "Sở Văn hóa", "Khuyết danh")
SUBJECTS = ("Lịch sử", "Địa lý", "Văn hóa", "Phong tục", "Tôn giáo", "Kinh tế", "Giáo dục", "Văn học")
STREAM_WORDS = 1_500_000  # words of Markov text that pages are cut from
JUMP = 0.1  # the chain jumps to a random word this often (new pairs of words, as a large collection has)
NOISE = 0.04  # a segment of a page is followed by a misspelled word (OCR-like) this often
NAME_EVERY = 1.0 / sum(rate for _, rate in NAMES) * 1_000_000  # pages per name printed, on average


def weighted(rng: random.Random, choices) -> str:
    return rng.choices([value for value, _ in choices], [weight for _, weight in choices])[0]


def corpus_words() -> list[str]:
    """The words of the bundled Vietnamese texts, as printed (with their punctuation); the Hán texts
    are left out."""
    found: list[str] = []
    for path in CORPUS:
        words = re.sub(r"[*#|\\_]+|-{2,}", " ",
                       unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))).split()
        latin = sum(any("a" <= c.lower() <= "z" or "\u00c0" <= c <= "\u1ef9" for c in w) for w in words)
        if latin >= len(words) / 2:
            found.extend(words)
    return found


def misspelled(rng: random.Random, word: str) -> str:
    """An OCR-like misreading: a mark dropped or changed, or a letter confused."""
    decomposed = unicodedata.normalize("NFD", word)
    marks = [i for i, c in enumerate(decomposed) if unicodedata.combining(c)]
    if marks and rng.random() < 0.7:
        i = rng.choice(marks)
        swap = rng.choice(["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"])
        return unicodedata.normalize("NFC", decomposed[:i] + swap + decomposed[i + 1:])
    for wrong, right in (("m", "rn"), ("n", "u"), ("c", "e"), ("h", "b"), ("i", "l"), ("o", "ơ"), ("đ", "d")):
        if wrong in word:
            return word.replace(wrong, right, 1)
    return word + rng.choice("il.,")


class Collection:
    """The generated items, deterministic from the seed: a long Markov text over the corpus words,
    from which every page is cut (segments of 4-40 words at random places, so cheap to make) with a
    misspelled word or a rare name now and then."""

    def __init__(self, seed: int):
        rng = random.Random(seed)
        words = corpus_words()
        self.corpus = words
        after: dict[str, list[str]] = {}
        for first, second in zip(words, words[1:]):
            after.setdefault(first, []).append(second)
        stream, word = [], words[0]
        choice, chance = rng.choice, rng.random
        for _ in range(STREAM_WORDS):
            nexts = after.get(word)
            word = choice(words) if nexts is None or chance() < JUMP else choice(nexts)
            stream.append(word)
        # each word with the space after it; a line ends every 9-14 words, as in an OCR'd page
        line_ends = set()
        position = 0
        while position < len(stream):
            position += rng.randint(9, 14)
            line_ends.add(position)
        self.stream = stream
        self.pieces = [w + ("\n" if i + 1 in line_ends else " ") for i, w in enumerate(stream)]
        self.misspelled = [misspelled(rng, rng.choice(words)) + " " for _ in range(50_000)]
        self.names = [forms for forms, _ in NAMES]
        self.name_weights = [rate for _, rate in NAMES]
        self.seed = seed

    def page(self, rng: random.Random, secret: bool = False) -> str:
        """A page's text: usually 150-450 words, some short (a chapter's end), a few dense."""
        roll = rng.random()
        if roll < 0.07:
            length = rng.randint(20, 150)
        elif roll < 0.97:
            length = int(rng.triangular(150, 450, 280))
        else:
            length = rng.randint(450, 700)
        parts, count, size = [], 0, len(self.pieces)
        randint, chance = rng.randint, rng.random
        while count < length:
            take = min(randint(4, 40), length - count)
            start = randint(0, size - take)
            parts.extend(self.pieces[start:start + take])
            count += take
            if chance() < NOISE:
                parts.append(self.misspelled[randint(0, len(self.misspelled) - 1)])
        if chance() * NAME_EVERY < 1.0:
            forms = rng.choices(self.names, self.name_weights)[0]
            parts.insert(randint(0, len(parts)), rng.choice(forms) + " ")
        if secret and chance() < 0.3:
            parts.insert(randint(0, len(parts)), SECRET_NAME + " ")
        return "".join(parts)

    def items(self, pages: int):
        """IndexedItem after IndexedItem until ``pages`` pages are searchable (open or restricted);
        the secret items come on top (index_item must leave them out)."""
        rng = random.Random(self.seed * 1_000_003 + 7)
        made, number = 0, 0
        while made < pages:
            number += 1
            library = weighted(rng, LIBRARIES)
            access = weighted(rng, ACCESS)
            count = int(math.exp(rng.uniform(math.log(20), math.log(400))))
            if access != "secret":
                count = min(count, pages - made)
                made += count
            year = "" if rng.random() < 0.05 else str(int(rng.triangular(1860, 2023, 1965)))
            place = rng.choice(PLACES)
            name = rng.choices(self.names, self.name_weights)[0][0] if rng.random() < 0.1 else place
            title = f"{rng.choice(TITLE_WORDS)} {name}"
            if access == "secret":
                title += f" ({SECRET_NAME})"
            yield IndexedItem(
                library=library, item_id=f"{library}.{number:06d}", access=access,
                category=weighted(rng, CATEGORIES), language=weighted(rng, LANGUAGES), date=year, title=title,
                creators=[rng.choice(CREATORS)], subjects=rng.sample(SUBJECTS, 2), places=[place],
                call_number=f"{library[:2]}.{number:06d}",
                pages=[(n, self.page(rng, access == "secret")) for n in range(1, count + 1)])


# ---- the queries -----------------------------------------------------------------------------

@dataclass
class Query:
    kind: str  # syllable, name, phrase (quoted), words (unquoted)
    query: str
    marks: bool  # typed with its diacritics
    filters: dict


def plain_words(text_: str) -> list[str]:
    """The runs of letters (no digits)."""
    return re.findall(r"[^\W\d_]+", text_)


def make_queries(collection: Collection, count: int, seed: int) -> list[Query]:
    """``count`` queries, a quarter of each kind, half typed folded, about a third with filters."""
    rng = random.Random(seed * 7_919 + 13)
    frequency: dict[str, int] = {}
    for word in plain_words(" ".join(collection.corpus).lower()):
        frequency[word] = frequency.get(word, 0) + 1
    ranked = sorted(frequency, key=lambda w: (-frequency[w], w))
    common, middling = ranked[:100], ranked[100:1500]
    queries: list[Query] = []
    kinds = ["syllable", "name", "phrase", "words"]
    for number in range(count):
        kind = kinds[number % 4]
        if kind == "syllable":
            typed = rng.choice(common if rng.random() < 0.6 else middling)
        elif kind == "name":
            typed = rng.choice(rng.choice(collection.names))
            typed = re.sub(r"^(làng|xã|thôn|họ|dòng họ) ", "", typed) if rng.random() < 0.5 else typed
        else:
            while True:
                start = rng.randrange(len(collection.stream) - 10)
                found = plain_words(" ".join(collection.stream[start:start + 12]))[:rng.randint(2, 4)]
                if len(found) >= 2:
                    break
            typed = " ".join(found).lower()
            if kind == "phrase":
                typed = f'"{typed}"'
        marks = rng.random() < 0.5
        if not marks:
            typed = search.fold(typed)
        filters: dict = {}
        if rng.random() < 0.3:
            roll = rng.random()
            if roll < 0.35:
                filters["library"] = weighted(rng, LIBRARIES)
            elif roll < 0.45:
                filters["language"] = weighted(rng, LANGUAGES)
            elif roll < 0.7:
                filters["category"] = weighted(rng, CATEGORIES)
            else:
                start_year = rng.choice([1860, 1900, 1945, 1954, 1975])
                filters.update(year_from=start_year, year_to=start_year + rng.choice([20, 40, 60]))
            if rng.random() < 0.3:
                filters.setdefault("category", weighted(rng, CATEGORIES))
        queries.append(Query(kind, typed, marks, filters))
    return queries


def warm_up_queries(collection: Collection, seed: int) -> list[Query]:
    return make_queries(collection, 12, seed + 1_000)


# ---- PostgreSQL: a cluster of our own in a folder -----------------------------------------------

class Cluster:
    """A PostgreSQL cluster in FOLDER/data (made with initdb when missing), listening on 127.0.0.1
    on a free port while the bench runs; as root every server command runs as the `postgres` user
    (as tests/pgserver.py does)."""

    def __init__(self, folder: Path, settings: list[str] = ()):
        from digitize.preservation.backup import pg_program

        self.folder = folder
        self.data = folder / "data"
        self.bin = Path(pg_program("initdb")).parent
        self.as_root = os.geteuid() == 0
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.settings = ["max_wal_size=4GB", *settings]
        self.started = False

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://digitize@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        new = not (self.data / "PG_VERSION").exists()
        if new:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            if self.as_root:
                user = pwd.getpwnam("postgres")
                os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.folder.chmod(0o755)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                      "--locale=C.UTF-8", "--no-instructions")
        # the server's defaults but for max_wal_size (a bulk load checkpoints less often) and --pg-conf
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} " + " ".join(f"-c {s}" for s in self.settings)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "120",
                  "-o", options, "start")
        self.started = True
        if new:
            self.psql("CREATE ROLE digitize LOGIN")

    def psql(self, *commands: str) -> str:
        args = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-q", "-At",
                "-v", "ON_ERROR_STOP=1"]
        for command in commands:
            args += ["-c", command]
        return self._run(*args)

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "300", "stop")
            self.started = False

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=900,
                              env={**os.environ, "LC_ALL": "C.UTF-8"})
        if done.returncode:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout


# ---- building ---------------------------------------------------------------------------------

def add_libraries(session, codes) -> None:
    """The libraries in the ledger (its items need them)."""
    for code in codes:
        if session.get(Library, code) is None:
            session.add(Library(code=code, name=f"Thư viện {code}", province=code[:2], tier="provincial"))
    session.commit()


def add_to_ledger(session, item: IndexedItem) -> None:
    """The item as the ledger holds a stored one (search finds an indexed item only while the ledger
    holds it stored, not withdrawn, with the same access): added to the session, committed by
    index_item with the item's text."""
    session.add(Item(library=item.library, item_id=item.item_id, title=item.title, category=item.category,
                     access=item.access, call_number=item.call_number, status="ok", pages=len(item.pages),
                     stored=f"{item.library}/{item.item_id}/", digitized=datetime.now(timezone.utc)))


def prepare_seconds(engine: str, sample: list[str]) -> float:
    """Seconds a page of the sample takes in index_item's Python work (the words, folding, pairs,
    the tsvector literals), outside the database."""
    started = time.perf_counter()
    for page_text in sample:
        cleaned = unicodedata.normalize("NFC", page_text)
        search.words(cleaned)
        if engine == "postgresql":
            search.tsvector(search.tokens(cleaned))
            search.tsvector(search.words(cleaned), positions=False)
            search.tsvector(search.pairs(search.tokens(cleaned)), positions=False)
        else:
            search.fold(cleaned)
            " ".join(search.pairs(search.tokens(cleaned)))
    return (time.perf_counter() - started) / len(sample)


def build(session, collection: Collection, pages: int, engine: str) -> dict:
    """Index the generated items one at a time (index_item commits each), then optimize."""
    search.clear(session)
    add_libraries(session, [code for code, _ in LIBRARIES])
    made = collection.items(pages)
    generating = indexing = 0.0
    items = secret = indexed_pages = secret_pages = 0
    sample: list[str] = []
    started = last = time.perf_counter()
    while True:
        clock = time.perf_counter()
        item = next(made, None)
        generating += time.perf_counter() - clock
        if item is None:
            break
        if len(sample) < 2_000:
            sample.extend(t for _, t in item.pages[:200])
        clock = time.perf_counter()
        add_to_ledger(session, item)
        search.index_item(session, item)
        indexing += time.perf_counter() - clock
        if item.access == "secret":
            secret += 1
            secret_pages += len(item.pages)
        else:
            items += 1
            indexed_pages += len(item.pages)
        if time.perf_counter() - last > 60:
            last = time.perf_counter()
            spent = last - started
            print(f"  {indexed_pages:,} pages in {spent:.0f} s ({indexed_pages / spent:.0f} pages/s)", flush=True)
    clock = time.perf_counter()
    search.optimize(session)
    optimizing = time.perf_counter() - clock
    total = time.perf_counter() - started
    preparing = prepare_seconds(engine, sample[:2_000]) * (indexed_pages + items)
    return {"pages": indexed_pages, "items": items, "secret_items": secret, "secret_pages": secret_pages,
            "seconds": round(total, 1), "pages_per_second": round(indexed_pages / total, 1),
            "generating_seconds": round(generating, 1), "index_item_seconds": round(indexing, 1),
            "python_preparation_seconds_estimate": round(preparing, 1),
            "optimize_seconds": round(optimizing, 1)}


def sqlite_size(session, path: Path) -> dict:
    sizes = {"file_bytes": path.stat().st_size}
    try:
        rows = session.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")).all()
        sizes["tables"] = {name: int(size) for name, size in rows if size > 1_000_000}
    except Exception:  # dbstat is not in every SQLite build
        session.rollback()
    return sizes


def postgres_size(session) -> dict:
    value = lambda sql: int(session.execute(text(sql)).scalar())  # noqa: E731
    sizes = {"database_bytes": value("SELECT pg_database_size(current_database())"),
             "search_pages_total_bytes": value("SELECT pg_total_relation_size('search_pages')"),
             "search_pages_table_bytes": value("SELECT pg_table_size('search_pages')"),
             "search_items_total_bytes": value("SELECT pg_total_relation_size('search_items')")}
    for index in ("ix_search_pages_folded", "ix_search_pages_pairs", "ix_search_pages_item", "search_pages_pkey"):
        sizes[f"{index}_bytes"] = value(f"SELECT pg_relation_size('{index}')")
    session.commit()
    return sizes


def gigabytes(count: int) -> str:
    return f"{count / 1e9:.2f} GB"


# ---- querying --------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latency(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1),
            "p99": round(percentile(values, 0.99), 1), "max": round(max(values), 1),
            "mean": round(statistics.fmean(values), 1)}


def page_text(session, library: str, item_id: str, page: int) -> str:
    """The stored text of an indexed page (to check the hits)."""
    if session.get_bind().dialect.name == "postgresql":
        sql = ("SELECT p.text FROM search_pages AS p JOIN search_items AS i ON i.id = p.item "
               "WHERE i.library = :library AND i.item_id = :item_id AND p.page = :page")
    else:
        sql = (f"SELECT exact FROM search_text WHERE rowid = ((SELECT id FROM search_items WHERE library = :library "
               f"AND item_id = :item_id) << {search.PAGE_BITS}) + :page")
    found = session.execute(text(sql), {"library": library, "item_id": item_id, "page": page or 0}).scalar()
    session.commit()
    return found or ""


def holds(words: list[str], run: list[str]) -> bool:
    """Whether ``run`` is somewhere in ``words``, word for word."""
    return any(words[start:start + len(run)] == run for start in range(len(words) - len(run) + 1))


def run_queries(session, queries: list[Query], warm: list[Query]) -> list[dict]:
    for query in warm:
        search.search(session, query.query, TIERS, page_size=20, **query.filters)
    results = []
    for query in queries:
        started = time.perf_counter()
        found = search.search(session, query.query, TIERS, page_size=20, **query.filters)
        ms = (time.perf_counter() - started) * 1000
        top = found.hits[0] if found.hits else None
        name_on_top = typed_on_top = None
        if query.kind == "name" and top is not None:
            # is the first hit about the name? its page holds the name's words together and in order
            # (folded), and, typed with marks, as typed
            body = page_text(session, top.library, top.item_id, top.page)
            name_on_top = holds(search.tokens(body), search.tokens(query.query))
            if query.marks:
                typed_on_top = holds(search.words(body), search.words(query.query))
        results.append({"kind": query.kind, "query": query.query, "marks": query.marks, "filters": query.filters,
                        "ms": round(ms, 2), "total": found.total, "more": found.more, "hits": len(found.hits),
                        "top": [f"{h.library}/{h.item_id} p{h.page}" for h in found.hits[:3]],
                        "snippet": search.marked(found.hits[0].snippet, "[", "]") if found.hits else "",
                        "name_on_top": name_on_top, "typed_on_top": typed_on_top})
    return results


def secret_check(session) -> int:
    """Items found for the name printed only in secret items, whatever tiers are asked for (must be 0)."""
    return search.search(session, SECRET_NAME, {"open", "restricted", "secret"}).total


def summarize(results: list[dict]) -> dict:
    groups: dict[str, list[float]] = {"all": [r["ms"] for r in results]}
    for r in results:
        for group in (r["kind"], "with diacritics" if r["marks"] else "without diacritics",
                      "with filters" if r["filters"] else "without filters"):
            groups.setdefault(group, []).append(r["ms"])
    return {group: latency(values) for group, values in groups.items()}


def describe(result: dict) -> str:
    filters = " ".join(f"{k}={v}" for k, v in result["filters"].items())
    more = "+" if result["more"] else ""
    return f"{result['ms']:8.1f} ms  {result['kind']:<8} {result['query']!r} {filters}  -> {result['total']}{more} items"


def report_queries(engine: str, results: list[dict]) -> dict:
    summary = summarize(results)
    print(f"\n{engine}: {len(results)} queries, top 20 with snippets, tiers {{open}}")
    print(f"  {'queries':<20} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}")
    for group, row in summary.items():
        print(f"  {group:<20} {row['n']:>4} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['p99']:>8.1f} "
              f"{row['max']:>8.1f} {row['mean']:>8.1f}")
    p95 = summary["all"]["p95"]
    print(f"  target p95 <= {TARGET_MS:.0f} ms: {'met' if p95 <= TARGET_MS else 'MISSED'} ({p95:.1f} ms)")
    print("  slowest 5:")
    for result in sorted(results, key=lambda r: -r["ms"])[:5]:
        print("   " + describe(result))
    empty = {kind: sum(1 for r in results if r["kind"] == kind and not r["total"]) for kind in summary
             if kind in ("syllable", "name", "phrase", "words")}
    capped = sum(1 for r in results if r["more"])
    print(f"  queries without hits, per kind: {empty}; queries over the {search.CANDIDATES:,}-row cap "
          f"(total is a lower bound): {capped}")
    names = [r for r in results if r["name_on_top"] is not None]
    typed = [r for r in results if r["typed_on_top"] is not None]
    if names:
        print(f"  rare names: the top hit's page holds the name (its words together) in "
              f"{sum(r['name_on_top'] for r in names)} of {len(names)} queries with hits; typed with diacritics, "
              f"holds it as typed in {sum(r['typed_on_top'] for r in typed)} of {len(typed)}")
    for kind in ("syllable", "name", "phrase", "words"):
        example = next((r for r in results if r["kind"] == kind and r["hits"]), None)
        if example:
            print(f"  e.g. {example['query']!r} -> {example['top'][0]}: {example['snippet'][:160]!r}")
    return summary


# ---- one engine ------------------------------------------------------------------------------

def bench_engine(engine: str, a, collection: Collection, queries: list[Query]) -> dict:
    folder = a.dir / engine
    meta_path = a.dir / f"{engine}-index.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    reuse = a.reuse and meta.get("pages") == a.pages and meta.get("seed") == a.seed and meta.get("complete")
    cluster = None
    try:
        if engine == "postgresql":
            cluster = Cluster(folder, a.pg_conf)
            cluster.start()
            database = f"search_{a.pages}"
            if not reuse:  # one index at a time in the cluster (the disk)
                old = cluster.psql("SELECT datname FROM pg_database WHERE datname LIKE 'search%'").split()
                cluster.psql(*[f"DROP DATABASE {name}" for name in old], f"CREATE DATABASE {database} OWNER digitize")
            url = cluster.url(database)
        else:
            path = folder / "ledger.sqlite"
            if not reuse:
                shutil.rmtree(folder, ignore_errors=True)
            url = f"sqlite:///{path}"
        if not reuse:
            meta_path.unlink(missing_ok=True)
        session = open_ledger(url)
        if cluster is not None and a.pg_set:
            pg_settings(session, a.pg_set)
        try:
            if reuse:
                print(f"\n{engine}: reusing the index of {a.pages:,} pages (seed {a.seed}) in {folder}, built "
                      f"{meta['built']}", flush=True)
                built = meta["build"]
            else:
                print(f"\n{engine}: building an index of {a.pages:,} pages in {folder}", flush=True)
                built = build(session, collection, a.pages, engine)
                meta = {"pages": a.pages, "seed": a.seed, "complete": True, "build": built,
                        "built": datetime.now().isoformat(timespec="seconds")}
                meta_path.write_text(json.dumps(meta, indent=1))
            sizes = sqlite_size(session, folder / "ledger.sqlite") if engine == "sqlite" else postgres_size(session)
            print_build(engine, built, sizes, reuse)
            if cluster is not None:
                print(f"  PostgreSQL: server {', '.join(cluster.settings)}, the rest default; on the bench's "
                      f"connections: {', '.join(a.pg_set) if a.pg_set else 'the defaults'}")
            results = run_queries(session, queries, warm_up_queries(collection, a.seed))
            summary = report_queries(engine, results)
            leaked = secret_check(session)
            print(f"  items found for a name printed only in secret items: {leaked} (must be 0)")
        finally:
            session.close()
            session.get_bind().dispose()
    finally:
        if cluster is not None:
            cluster.stop()
    return {"build": built, "reused": bool(reuse), "pg_set": a.pg_set if cluster else [],
            "pg_conf": cluster.settings if cluster else [], "size": sizes,
            "latency": summary, "queries": results,
            "secret_found": leaked}


def pg_settings(session, settings: list[str]) -> None:
    """Every new connection of the session's engine SETs these (NAME=VALUE) first: to try what a
    server setting does to the queries without changing the library (see bench/README.md)."""
    from sqlalchemy import event

    pairs_ = [setting.split("=", 1) for setting in settings]

    def set_them(connection, _record) -> None:
        for name, value in pairs_:
            connection.execute(f"SELECT set_config('{name}', '{value}', false)")
        connection.commit()

    event.listen(session.get_bind(), "connect", set_them)
    session.close()
    session.get_bind().dispose()  # the connections made before


def print_build(engine: str, built: dict, sizes: dict, reused: bool) -> None:
    rest = built["index_item_seconds"] - built["python_preparation_seconds_estimate"]
    print(f"{engine}: {'(as built then) ' if reused else ''}{built['pages']:,} pages in {built['items']:,} items "
          f"(+ {built['secret_items']} secret items, {built['secret_pages']:,} pages, not indexed) in "
          f"{built['seconds']:.0f} s: {built['pages_per_second']:.0f} pages/s")
    print(f"  generating the text {built['generating_seconds']:.0f} s; index_item {built['index_item_seconds']:.0f} s "
          f"(preparing the text in Python about {built['python_preparation_seconds_estimate']:.0f} s, the database "
          f"about {rest:.0f} s); optimize {built['optimize_seconds']:.0f} s")
    if engine == "sqlite":
        tables = ", ".join(f"{name} {gigabytes(size)}" for name, size in sizes.get("tables", {}).items())
        print(f"  index size: {gigabytes(sizes['file_bytes'])} (the SQLite file){'; ' + tables if tables else ''}")
    else:
        print(f"  index size: database {gigabytes(sizes['database_bytes'])}; search_pages with its indexes "
              f"{gigabytes(sizes['search_pages_total_bytes'])} (table and TOAST "
              f"{gigabytes(sizes['search_pages_table_bytes'])}, GIN folded "
              f"{gigabytes(sizes['ix_search_pages_folded_bytes'])}, GIN pairs "
              f"{gigabytes(sizes['ix_search_pages_pairs_bytes'])}); search_items "
              f"{gigabytes(sizes['search_items_total_bytes'])}")


# ---- findability -----------------------------------------------------------------------------

ITEM_TOML = ('id = "FIND-1"\ntitle = "Findability pages"\nlibrary = "BENCH"\naccess = "open"\n'
             'profile = "quoc-ngu-modern"\n')


def findability(a) -> dict:
    from vnpages import render_pages
    from digitize.core.quality import cer

    work = Path(tempfile.mkdtemp(prefix="digitize-findability-"))
    try:
        # the held-out text first (the diacritic corrector's frequencies are not built from it), then
        # the bundled corpus for more pages
        source = work / "text.txt"
        source.write_text("\n\n".join(p.read_text(encoding="utf-8") for p in
                                      [ROOT / "bench" / "texts" / "ke-hoach-vinh-phuc.txt",
                                       ROOT / "scripts" / "corpus" / "ke-hoach-hai-duong.txt",
                                       ROOT / "scripts" / "corpus" / "truyen-kieu-1866.txt"]), encoding="utf-8")
        item = work / "batch" / "FIND-1"
        manifest = render_pages(source, item, a.findability_pages, a.seed, level="hard", dpi=a.findability_dpi,
                                paper="A4")
        truths = [(item / entry["gt"]).read_text(encoding="utf-8") for entry in manifest]
        for entry in manifest:
            (item / entry["gt"]).unlink()
        (item / "manifest.json").unlink()
        (item / "item.toml").write_text(ITEM_TOML, encoding="utf-8")
        print(f"{len(manifest)} pages rendered (level hard, {a.findability_dpi} dpi, seed {a.seed}); OCR with digitize run, "
              f"{a.workers} workers", flush=True)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update({"PREFECT_HOME": str(work / "prefect"), "DIGITIZE_DATA": str(work / "data"), "COLUMNS": "200"})
        out = work / "out"
        started = time.perf_counter()
        done = subprocess.run([str(BIN / "digitize"), "run", str(work / "batch"), "--out", str(out),
                               "--workers", str(a.workers)], env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"digitize run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        print(f"  OCR done in {time.perf_counter() - started:.0f} s", flush=True)
        texts_dir = out / "BENCH" / "FIND-1" / "text"
        ocr = [(texts_dir / f"{n:04d}.txt").read_text(encoding="utf-8") for n in range(1, len(manifest) + 1)]

        session = open_ledger(f"sqlite:///{work / 'ledger.sqlite'}")
        try:
            add_libraries(session, ["BENCH"])
            for number, page_text in enumerate(ocr, start=1):
                page_item = IndexedItem(library="BENCH", item_id=f"P{number:04d}", access="open", category="other",
                                        pages=[(1, page_text)])
                add_to_ledger(session, page_item)
                search.index_item(session, page_item)
            search.optimize(session)
            counts = {"words": 0, "ocr_exact": 0, "ocr_folded": 0, "found_typed_exact": 0,
                      "found_typed_folded": 0, "found_exact": 0, "typed_differ": 0}
            missed: list[tuple[str, str]] = []
            per_page = []
            for number, (truth, page_text) in enumerate(zip(truths, ocr), start=1):
                item_id = f"P{number:04d}"
                printed = set(search.words(page_text))
                folded = set(search.tokens(page_text))
                page_words = [w for w in dict.fromkeys(search.words(truth)) if w.isalpha()]
                page_counts = dict.fromkeys(counts, 0)
                for word in page_words:
                    typed = search.search(session, word, TIERS, page_size=100)
                    bare = search.search(session, search.fold(word), TIERS, page_size=100)
                    found_typed = any(h.item_id == item_id for h in typed.hits)
                    found_bare = any(h.item_id == item_id for h in bare.hits)
                    in_ocr = word in printed
                    for key, value in (("words", True), ("ocr_exact", in_ocr), ("ocr_folded", search.fold(word) in folded),
                                       ("found_typed_exact", found_typed), ("found_typed_folded", found_bare),
                                       ("found_exact", found_typed and in_ocr),
                                       ("typed_differ", found_typed != found_bare)):
                        page_counts[key] += value
                        counts[key] += value
                    if search.fold(word) in folded and not found_bare:
                        missed.append((item_id, word))
                per_page.append({"page": number, "cer": round(cer(page_text, truth), 4), **page_counts})
        finally:
            session.close()
            session.get_bind().dispose()
    finally:
        if a.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    n = counts["words"]
    share = lambda key: counts[key] / n if n else 0.0  # noqa: E731
    print(f"\nfindability on {len(ocr)} hard pages: {n} distinct ground-truth words (letters only, per page); "
          f"mean CER {statistics.fmean(p['cer'] for p in per_page):.3f}")
    agree = counts["words"] - counts["typed_differ"]
    print(f"  exact:  {share('found_exact'):.1%}  the page is found and its text holds the word as printed "
          f"(diacritics and all): typed with its marks, it comes up as an exact match")
    print(f"  folded: {share('found_typed_folded'):.1%}  the page is found at all (typed folded; typed with the "
          f"diacritics finds the same pages for {agree} of {n} words: every query is folded)")
    print(f"  context: the OCR text holds the word character for character {share('ocr_exact'):.1%}, "
          f"its folded form {share('ocr_folded'):.1%}")
    if missed:
        print(f"  !! {len(missed)} words the OCR text holds (folded) that the search did not find on their page, "
              f"e.g. {missed[:10]}")
    for page in per_page:
        print(f"  page {page['page']:>2}: CER {page['cer']:.3f}, {page['words']} words, exact "
              f"{page['found_exact'] / max(1, page['words']):.1%}, folded {page['found_typed_folded'] / max(1, page['words']):.1%}")
    return {"pages": len(ocr), "dpi": a.findability_dpi, "words": n, "counts": counts, "per_page": per_page,
            "exact": round(share("found_exact"), 4), "folded": round(share("found_typed_folded"), 4),
            "typed_exact": round(share("found_typed_exact"), 4), "ocr_exact": round(share("ocr_exact"), 4),
            "ocr_folded": round(share("ocr_folded"), 4), "missed": missed}


# ---- main ------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1_000_000, help="pages in the index (default 1,000,000)")
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"where the indexes are kept (default {DEFAULT_DIR})")
    ap.add_argument("--reuse", action="store_true", help="do not build when an index of this size and seed is there")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    ap.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                    help="PostgreSQL: SET this on the bench's connections before querying (repeatable), e.g. "
                         "plan_cache_mode=force_custom_plan, enable_nestloop=off")
    ap.add_argument("--pg-conf", action="append", default=[], metavar="NAME=VALUE",
                    help="PostgreSQL: start the server with this setting (repeatable), e.g. shared_buffers=4GB")
    ap.add_argument("--findability", action="store_true", help="measure findability on OCR'd hard pages instead")
    ap.add_argument("--findability-pages", type=int, default=12)
    ap.add_argument("--findability-dpi", type=int, default=300, help="--findability: the pages' resolution")
    ap.add_argument("--workers", type=int, default=2, help="--findability: digitize run --workers (default 2)")
    ap.add_argument("--keep", action="store_true", help="--findability: keep the work folder")
    a = ap.parse_args()

    machine = {"cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
               "date": datetime.now().isoformat(timespec="seconds")}
    if a.findability:
        numbers = {"findability": findability(a), **machine}
    else:
        a.dir.mkdir(parents=True, exist_ok=True)
        mode = a.dir.stat().st_mode
        if engines_asked(a) != ["sqlite"] and not mode & 0o001:
            a.dir.chmod(mode | 0o005)  # the postgres user must reach its data folder
        clock = time.perf_counter()
        collection = Collection(a.seed)
        print(f"text: a Markov chain over {len(collection.corpus):,} corpus words, {len(collection.stream):,} words "
              f"made in {time.perf_counter() - clock:.1f} s; {os.cpu_count()} cores", flush=True)
        queries = make_queries(collection, a.queries, a.seed)
        # the generator's millions of objects are left out of Python's garbage collection: a full
        # pass over them (100-170 ms) would otherwise fall on some queries' time, which a search
        # serving readers, without them, does not pay
        gc.freeze()
        engines = engines_asked(a)
        numbers = {"pages": a.pages, "seed": a.seed, **machine,
                   "engines": {engine: bench_engine(engine, a, collection, queries) for engine in engines}}
        if len(engines) == 2:
            compare(numbers["engines"])
    if a.json:
        a.json.write_text(json.dumps(numbers, indent=1, ensure_ascii=False), encoding="utf-8")


def engines_asked(a) -> list[str]:
    return ["sqlite", "postgresql"] if a.engine == "both" else [a.engine]


def compare(engines: dict) -> None:
    """Do both engines find as many items where neither reached the candidate cap?"""
    pairs_ = list(zip(engines["sqlite"]["queries"], engines["postgresql"]["queries"]))
    even = [(s, p) for s, p in pairs_ if not s["more"] and not p["more"]]
    differ = [(s, p) for s, p in even if s["total"] != p["total"]]
    print(f"\nboth engines: {len(even)} queries under the cap on both; their totals differ on {len(differ)}")
    for s, p in differ[:5]:
        print(f"  {s['query']!r} {s['filters']}: sqlite {s['total']}, postgresql {p['total']}")


if __name__ == "__main__":
    main()
