"""What a reader's query means, the one reading of it that the collection's search (search.index,
SQLite and PostgreSQL), the search inside an item (its page list and IIIF Content Search,
access.iiif.content_search) and so the viewer all use.

- A query is units: each unquoted word is a unit of its own, each phrase in double quotes one unit
  of its words in order (an odd last quote is ignored). Only the first MOST_QUERY_WORDS words count;
  a repeated unit counts once. Words are runs of letters and digits (``words``/``tokens``); anything
  else a reader types (operators, ``*``, ``-``, ``:``, parentheses) only separates words.
- A page matches when every unit is on it: an unquoted word anywhere on the page, a phrase with its
  words side by side, in order (across line ends). Words are compared folded (``fold``: no
  diacritics, đ as d, lower case), so "hai duong" finds "Hải Dương"; words typed with marks rank
  the pages holding them as typed first.
- Where the query's words stand together on a page (``passages``: occurrences of units next to one
  another, merged) is what a reader looks for: the page ranks first, its snippet and its first hit
  show that passage (``best_passage``).

Pure functions; no database, no store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from digitize.core.vietnamese import fold

LONGEST_WORD = 200  # characters; longer words (OCR noise) are not searchable
MOST_QUERY_WORDS = 32
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=100_000)
def fold_word(word: str) -> str:
    """``fold`` of one word, remembered (a language has far fewer words than a collection has)."""
    return fold(word)


def words(text: str) -> list[str]:
    """The words of the text as printed, in NFC and lower case (the exact forms)."""
    return [w for w in _WORD.findall(unicodedata.normalize("NFC", text).lower()) if len(w) <= LONGEST_WORD]


def tokens(text: str) -> list[str]:
    """The words of the folded text, as the index matches them."""
    return [w for w in _WORD.findall(fold(text)) if len(w) <= LONGEST_WORD]


def pairs(word_list: list[str]) -> list[str]:
    """Each word joined to the next ("hai duong nam": "haiduong", "duongnam"): a phrase of common
    words is found through its pairs, far rarer than its words."""
    return [first + second for first, second in zip(word_list, word_list[1:])]


def has_marks(word: str) -> bool:
    return fold_word(word) != word.lower()


@dataclass
class Query:
    """A reader's query read as units, each a word or a quoted phrase (a list of folded words), all
    of which must match. ``exact``: the words typed with marks (each a unit), which rank a row higher
    when it holds them as typed; ``pairs``: the pairs of words of the phrases; ``typed``: each unit's
    words as typed (NFC, lower case), beside ``folded``; ``sequence``: every folded word in the order
    typed, quoted or not (the words a reader wants together)."""

    folded: list[list[str]]
    exact: list[list[str]]
    pairs: list[str] = field(default_factory=list)
    typed: list[list[str]] = field(default_factory=list)
    sequence: list[str] = field(default_factory=list)

    @property
    def together(self) -> list[str]:
        """The pairs of the query's words in the order typed: a page holding all of them holds the
        words side by side (a name typed as words, "mac thien tich")."""
        return list(dict.fromkeys(pairs(self.sequence)))


def parse(query: str) -> Query:
    """The query's words and phrases (the first MOST_QUERY_WORDS words)."""
    parts = unicodedata.normalize("NFC", query or "").split('"')
    folded: list[list[str]] = []
    typed: list[list[str]] = []
    exact: list[list[str]] = []
    sequence: list[str] = []
    room = MOST_QUERY_WORDS
    for number, part in enumerate(parts):
        quoted = number % 2 == 1 and number < len(parts) - 1
        found = tokens(part)[:room]
        printed = words(part)[:len(found)]
        if len(printed) != len(found):  # folding changed where words end (rare): the folded words as typed
            printed = found
        room -= len(found)
        sequence.extend(found)
        if quoted and len(found) > 1:
            folded.append(found)
            typed.append(printed)
        else:
            folded.extend([w] for w in found)
            typed.extend([w] for w in printed)
        exact.extend([w] for w in printed if has_marks(w))
    kept = _distinct_positions(folded)
    folded = [folded[n] for n in kept]
    typed = [typed[n] for n in kept]
    phrase_pairs = dict.fromkeys(pair for unit in folded for pair in pairs(unit))
    return Query(folded=folded, exact=[exact[n] for n in _distinct_positions(exact)], pairs=list(phrase_pairs),
                 typed=typed, sequence=sequence)


def _distinct_positions(units: list[list[str]]) -> list[int]:
    seen: set[tuple[str, ...]] = set()
    kept = []
    for n, unit in enumerate(units):
        if tuple(unit) not in seen:
            seen.add(tuple(unit))
            kept.append(n)
    return kept


# ---- matching a page's words -------------------------------------------------------------------

@dataclass(frozen=True)
class Occurrence:
    """A unit of the query found on a page: ``unit`` its index in ``Query.folded``, the page's
    tokens ``start`` to ``end`` (excluded)."""
    unit: int
    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """Occurrences next to one another (or overlapping) on a page, merged: tokens ``start`` to
    ``end`` (excluded), the ``units`` they hold, and the occurrences."""
    start: int
    end: int
    units: frozenset[int]
    occurrences: tuple[Occurrence, ...]


def _readings(token) -> Collection[str]:
    return (token,) if isinstance(token, str) else token


def occurrences(query: Query, page: Sequence[str | Collection[str]]) -> list[Occurrence]:
    """Every place on the page where a unit of the query stands, by start: ``page`` is the page's
    folded tokens in reading order, each a word or the set of its readings (a word with the OCR's
    alternatives). A unit's occurrences never overlap one another."""
    readings = [_readings(token) for token in page]
    found = []
    for number, unit in enumerate(query.folded):
        position = 0
        while position + len(unit) <= len(readings):
            if all(word in readings[position + k] for k, word in enumerate(unit)):
                found.append(Occurrence(number, position, position + len(unit)))
                position += len(unit)
            else:
                position += 1
    return sorted(found, key=lambda o: (o.start, o.end, o.unit))


def matches(query: Query, found: list[Occurrence]) -> bool:
    """Whether the occurrences found on a page make it a match: every unit is there."""
    return bool(query.folded) and {o.unit for o in found} == set(range(len(query.folded)))


def passages(found: list[Occurrence]) -> list[Passage]:
    """The occurrences (by start) merged where they overlap, or touch and bring another unit (a
    word printed twice in a row is two passages), in reading order."""
    merged: list[Passage] = []
    for occurrence in found:
        if merged and (occurrence.start < merged[-1].end or (occurrence.start == merged[-1].end
                                                             and occurrence.unit not in merged[-1].units)):
            last = merged[-1]
            merged[-1] = Passage(last.start, max(last.end, occurrence.end), last.units | {occurrence.unit},
                                 last.occurrences + (occurrence,))
        else:
            merged.append(Passage(occurrence.start, occurrence.end, frozenset({occurrence.unit}), (occurrence,)))
    return merged


def best_passage(found: list[Occurrence]) -> Passage | None:
    """The passage holding the most of the query's units (the first of those): where its words
    stand together."""
    return max(passages(found), key=lambda p: len(p.units), default=None)
