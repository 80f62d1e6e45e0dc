"""The OCR's error rate as review measured it: the characters reviewers changed in the lines they
corrected, per month and profile, from the ledger's "corrected" review events alone (no store read,
so the dashboard can show it on every visit).

A line corrected more than once counts once: from what the OCR read (the first correction's
``before``) to what the last correction left (its ``after``), in the month of that last correction.
A page rescanned after a correction starts its lines afresh (the new OCR is another reading).
Only corrected lines are counted: lines a reviewer left as they were (right as read) are not in the
ledger's events, so the rate is that of the lines that needed a correction, an upper bound of the
rate over whole pages; the dashboard says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.ledger.database import Item
from digitize.ledger.review import ReviewEvent

CORRECTED, RESCANNED = "corrected", "rescanned"


@dataclass(frozen=True)
class ErrorRate:
    month: str  # YYYY-MM
    profile: str
    pages: int  # pages with a corrected line
    lines: int  # lines corrected
    characters: int  # characters the OCR had read in those lines
    changed: int  # edits (Levenshtein) from the OCR's reading to the reviewers' text

    @property
    def percent(self) -> float | None:
        """Characters changed per hundred read (the character error rate of those lines)."""
        return round(100 * self.changed / self.characters, 2) if self.characters else None


def error_rates(session: Session, library: str | None = None, since: date | None = None) -> list[ErrorRate]:
    """The figures per month (of the last correction) and profile, newest month first, profiles by
    name; of ``library``'s items, of corrections since ``since``."""
    query = (select(ReviewEvent.item, ReviewEvent.at, ReviewEvent.action, ReviewEvent.pages, ReviewEvent.detail)
             .where(ReviewEvent.action.in_((CORRECTED, RESCANNED))).order_by(ReviewEvent.at, ReviewEvent.id))
    if library:
        query = query.join(Item, Item.id == ReviewEvent.item).where(Item.library == library)
    lines: dict[tuple[int, int, str], list[dict]] = {}  # (item, page, line): [first event's detail, last's, when]
    for item, at, action, pages, detail in session.execute(query):
        if action == RESCANNED:
            for key in [k for k in lines if k[0] == item and k[1] in set(pages or [])]:
                del lines[key]
            continue
        detail = detail or {}
        page = detail.get("page", (pages or [0])[0])
        key = (item, page, str(detail.get("line", "")))
        if key in lines:
            lines[key][1:] = [detail, at]
        else:
            lines[key] = [detail, detail, at]
    start = datetime.combine(since, time(), timezone.utc) if since is not None else None
    totals: dict[tuple[str, str], list] = {}
    for (item, page, _line), (first, last, at) in lines.items():
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        if start is not None and at < start:
            continue
        before, after = first.get("before"), last.get("after")
        if isinstance(before, str) and isinstance(after, str):
            characters, changed = len(before), Levenshtein.distance(before, after)
        else:  # an event without the texts: its own figures
            characters, changed = int(first.get("characters") or 0), int(last.get("changed") or 0)
        figures = totals.setdefault((at.strftime("%Y-%m"), str(last.get("profile") or "")), [set(), 0, 0, 0])
        figures[0].add((item, page))
        figures[1] += 1
        figures[2] += characters
        figures[3] += changed
    ordered = sorted(sorted(totals.items()), key=lambda entry: entry[0][0], reverse=True)
    return [ErrorRate(month, profile, len(pages), count, characters, changed)
            for (month, profile), (pages, count, characters, changed) in ordered]
