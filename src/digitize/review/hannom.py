"""Hán-Nôm characters by their Vietnamese readings (Unihan's kVietnamese, data/vietnamese/
unihan_vietnamese.tsv, made by scripts/make_unihan_vietnamese.py): the candidate characters of a
reading typed in Quốc ngữ (with or without its diacritics), and the readings of a character, which
suggest the phiên âm of a transcribed column.

A reading typed with its diacritics finds the characters read exactly so first, then those whose
reading differs only in its marks ("nhan" finds 人 nhân, 顔 nhan...); typed without any, every
character of that folded reading. Within each group the common characters come first (Unihan's
kFrequency), then the simpler (fewer strokes)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from digitize.core.vietnamese import fold

MOST_CANDIDATES = 30
UNKNOWN_FREQUENCY = 9  # after Unihan's classes 1 (most common) to 5


@dataclass(frozen=True)
class Candidate:
    """A character for a typed reading: ``reading`` is the one of its readings that matched,
    ``exact`` whether it matched with its diacritics."""

    char: str
    reading: str
    readings: tuple[str, ...]
    exact: bool


@dataclass(frozen=True)
class Readings:
    by_char: dict[str, tuple[str, ...]]
    by_reading: dict[str, list[str]]  # exact reading -> characters, in the order they are offered
    by_folded: dict[str, list[str]]  # folded reading -> exact readings
    rank: dict[str, tuple[int, int, int]]  # character -> (frequency class, strokes, code point)


@lru_cache(maxsize=1)
def readings_table() -> Readings:
    """The table, read once from the package data."""
    text = (resources.files("digitize") / "data" / "vietnamese" / "unihan_vietnamese.tsv").read_text("utf-8")
    by_char: dict[str, tuple[str, ...]] = {}
    rank: dict[str, tuple[int, int, int]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        char, said, strokes, frequency = (line.split("\t") + ["", "", ""])[:4]
        by_char[char] = tuple(said.split())
        rank[char] = (int(frequency) if frequency.isdigit() else UNKNOWN_FREQUENCY,
                      int(strokes) if strokes.isdigit() else 99, ord(char))
    by_reading: dict[str, list[str]] = {}
    by_folded: dict[str, list[str]] = {}
    for char in sorted(by_char, key=rank.__getitem__):
        for reading in by_char[char]:
            by_reading.setdefault(reading, []).append(char)
            folded = by_folded.setdefault(fold(reading), [])
            if reading not in folded:
                folded.append(reading)
    return Readings(by_char, by_reading, by_folded, rank)


def normal_reading(typed: str) -> str:
    """A reading as typed (any input method's output, any case, spaces around) in the table's form."""
    return unicodedata.normalize("NFC", typed.strip().lower())


def candidates(typed: str, limit: int = MOST_CANDIDATES) -> list[Candidate]:
    """The characters read ``typed``, best first: those read exactly so (diacritics included), then
    those read so once diacritics are set aside; common and simpler characters first in each."""
    reading = normal_reading(typed)
    if not reading:
        return []
    table = readings_table()
    exact = table.by_reading.get(reading, [])
    found = [Candidate(c, reading, table.by_char[c], True) for c in exact]
    seen = set(exact)
    rest = [(c, other) for other in table.by_folded.get(fold(reading), []) if other != reading
            for c in table.by_reading[other] if c not in seen]
    for char, other in sorted(rest, key=lambda pair: table.rank[pair[0]]):
        if char not in seen:
            seen.add(char)
            found.append(Candidate(char, other, table.by_char[char], False))
    return found[:limit]


def readings_of(char: str) -> tuple[str, ...]:
    """The Vietnamese readings of a character as Unihan lists them (empty when it has none)."""
    return readings_table().by_char.get(char, ())


def suggested_reading(chars: list[str | None]) -> str:
    """The phiên âm suggested for a column: each character's first reading, "…" where a character
    has none (or is outside Unicode, given as None)."""
    return " ".join((readings_of(c) or ("…",))[0] if c else "…" for c in chars)
