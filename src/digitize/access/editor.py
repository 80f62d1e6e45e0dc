"""The page editor of review (``/staff/review/{library}/{item_id}/pages/{n}``) as HTML, and the
words of its answers: pure functions of what the route hands them (see access/site.py for the
rules every page keeps: escaped, absolute URLs under the base, words from the catalogues).

The page shows the page image and, for each ALTO line, its crop (a IIIF region of the page image)
beside a text field holding the line. The fields are one form, so the page works without
JavaScript (the form POSTs every line with the text it loaded; Enter or the button saves the page);
``editor.js`` adds the keyboard: Enter goes to the next line as Tab does, Ctrl+Enter saves the page
without leaving it. Words with low confidence are underlined and named as such in words; the OCR's
alternatives of a line's words are offered as readings of the whole line in a ``<datalist>`` (arrow
down in the field opens them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from digitize.access import assets, pages, site
from digitize.core.i18n import translations

CROP_MARGIN = 4  # pixels around a line's box in its crop: diacritics above, descenders below


@dataclass(frozen=True)
class WordView:
    text: str
    low: bool
    confidence: int | None  # percent
    alternatives: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConflictView:
    theirs: str  # the line as stored now
    by: str  # who saved it ("" unknown)


@dataclass(frozen=True)
class LineView:
    id: str
    number: int  # from 1, in reading order
    text: str  # what the field holds
    loaded: str  # the stored text the field started from (sent back with the save)
    crop: str  # URL of the line's crop
    words: list[WordView]
    readings: list[str]  # the line with an OCR alternative put in for one of its words
    conflict: ConflictView | None = None


@dataclass(frozen=True)
class EditorView:
    library: str
    item_id: str
    title: str
    page: int
    pages: int
    image: str  # URL of the page image
    action: str  # where the form POSTs
    item_url: str  # the item's review page
    previous: str | None
    following: str | None
    lines: list[LineView]
    may_save: bool  # a reviewer: the fields are editable
    state: str  # the page's review state ("" none yet)
    saved: int | None = None  # lines saved by the last save (shown after it)
    checked: bool = False  # the last save changed nothing: the page was marked checked
    csrf: str = ""


def crop_url(image_service: str, box: tuple[int, int, int, int], width: int, height: int) -> str:
    """The IIIF Image request of a line's crop: its box with CROP_MARGIN around it, inside the page."""
    left, top, w, h = box
    x, y = max(left - CROP_MARGIN, 0), max(top - CROP_MARGIN, 0)
    right, bottom = min(left + w + CROP_MARGIN, width), min(top + h + CROP_MARGIN, height)
    return f"{image_service}/{x},{y},{max(right - x, 1)},{max(bottom - y, 1)}/max/0/default.jpg"


def readings(words: list[WordView]) -> list[str]:
    """The line read with each OCR alternative of one of its words in place of the word."""
    found = []
    texts = [w.text for w in words]
    for number, word in enumerate(words):
        for alternative in word.alternatives:
            found.append(" ".join(texts[:number] + [alternative] + texts[number + 1:]))
    return list(dict.fromkeys(found))


def editor_page(context: site.Context, view: EditorView) -> str:
    conflicts = sum(1 for line in view.lines if line.conflict is not None)
    return site._render(
        "editor.html", context, view=view, scripts=(assets.url(context.base, "editor.js"),),
        styles=(assets.url(context.base, "editor.css"),), conflict_count=conflicts,
        conflict_summary=save_message(context.lang, 0, conflicts) if conflicts else "",
        saved_message=save_message(context.lang, view.saved or 0, 0, view.checked),
        has_alternatives=any(word.alternatives for line in view.lines for word in line.words),
        conflict_text=lambda by: conflict_message(context.lang, by))


def save_message(lang: str, saved: int, conflicts: int, checked: bool = False) -> str:
    """What the editor says after a save."""
    words = translations(pages.language(lang))
    if conflicts:
        return words.ngettext("%(n)d line was not saved: someone else changed it since you opened the page.",
                              "%(n)d lines were not saved: someone else changed them since you opened the page.",
                              conflicts) % {"n": conflicts}
    if checked:
        return words.gettext("Nothing changed on this page: it is marked as checked.")
    return words.ngettext("%(n)d line saved.", "%(n)d lines saved.", saved) % {"n": saved}


def conflict_message(lang: str, by: str) -> str:
    """Beside a refused line: who changed it, and that the refused text is kept in the field."""
    words = translations(pages.language(lang))
    if by:
        return words.gettext("%(name)s saved this line after you opened the page. Your text is kept in the field: "
                             "compare it with theirs below, then save again.") % {"name": by}
    return words.gettext("This line changed after you opened the page. Your text is kept in the field: compare it "
                         "with the stored text below, then save again.")


def refusal_message(lang: str, reason: str) -> str:
    """A save refused as a whole: ``csrf`` (the form is not this site's) or ``role`` (not a reviewer)."""
    words = translations(pages.language(lang))
    if reason == "csrf":
        return words.gettext("Not saved: the form has expired or is not this site's. Open the page again and "
                             "save once more.")
    return words.gettext("Only a reviewer may correct pages. Ask an administrator for the reviewer role.")
