"""The Hán-Nôm transcription editor's page (staff) and the transcription the item page shows
(readers): pure functions of small views, like ``site``. The editor shows the page image, its
columns right to left (each its crop, its characters and its phiên âm), and one reading field for
the current column whose candidates ``{base}/static/transcription.js`` fetches and lets the
keyboard pick; without the script each column's characters can be typed or pasted as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

from digitize.access import assets, site
from digitize.access.site import Context

EDITOR_MESSAGES = ("saved",)


@dataclass(frozen=True)
class ColumnView:
    """A column of the page in reading order (``number`` from 1, the rightmost): its crop, what is
    transcribed of it (``typed``: characters, ``{description}`` for one outside Unicode), its
    phiên âm and the phiên âm its characters' readings suggest."""

    number: int
    crop_url: str
    typed: str = ""
    phien_am: str = ""
    suggested: str = ""


@dataclass(frozen=True)
class EditorView:
    title: str
    page: int
    pages: int
    image_url: str
    save_url: str
    candidates_url: str
    review_url: str  # the item's review page
    reader_url: str  # the item's public page
    columns: list[ColumnView] = field(default_factory=list)
    csrf: str = ""
    message: str | None = None  # one of EDITOR_MESSAGES
    error: str | None = None  # a refused save: the reason, in plain words
    may_save: bool = True


def editor_page(context: Context, view: EditorView) -> str:
    if view.message is not None and view.message not in EDITOR_MESSAGES:
        raise ValueError(f"unknown message {view.message!r}: one of {', '.join(EDITOR_MESSAGES)}")
    return site._render("transcription.html", context, sign_in_link=False, view=view,
                        scripts=(assets.url(context.base, "transcription.js"),))
