"""The staff area's review pages: the queue (/staff/review), an item in review with its pages,
history and the accept and return forms (/staff/review/{library}/{item_id}), and the staff
accounts with their roles (/staff/users). Pure functions of the views the web layer hands them
(templates ``review_queue.html``, ``review_item.html``, ``staff_users.html``); every text escaped.
Secret items are listed here (staff only), with no thumbnail: their images are never served online."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from digitize.access import pages, site

QUEUE_FILTERS = ("library", "batch", "profile", "state")
ACTIONS = ("digitized", "accepted", "returned", "corrected", "transcribed", "rescanned", "migrated", "reopened")
RETURN_KINDS = ("rescan", "metadata", "profile", "other")


@dataclass(frozen=True)
class QueueEntry:
    """One item of the queue: ``url`` its review page; ``not_syllables`` a share (0-1)."""

    library: str
    item_id: str
    title: str
    secret: bool
    state: str
    pages: int
    batch: str
    profile: str
    not_syllables: float | None
    confidence: float | None
    flagged_pages: list[int]
    han_nom: bool
    url: str


@dataclass(frozen=True)
class QueueView:
    """The queue: the filters as given (QUEUE_FILTERS; ``state`` "" for every state), the values
    each offers, the entries riskiest first; ``clean_batches`` (batch, items without a flagged
    page awaiting review) for the bulk acceptance form, shown to reviewers (``may_review``)."""

    url: str
    filters: dict[str, str]
    choices: dict[str, list[str]]
    entries: list[QueueEntry]
    may_review: bool = False
    clean_batches: list[tuple[str, int]] = field(default_factory=list)
    accept_batch_url: str = ""
    message: str | None = None  # what the last action did


@dataclass(frozen=True)
class PageEntry:
    number: int
    thumbnail_url: str | None  # None for a secret item
    image_url: str | None
    editor_url: str
    flagged: bool
    state: str  # the page's review state ("" when nobody looked at it)


@dataclass(frozen=True)
class EventEntry:
    at: datetime
    actor: str
    action: str
    state_from: str
    state_to: str
    reason: str
    pages: list[int]
    kind: str = ""  # a return's kind (RETURN_KINDS)


@dataclass(frozen=True)
class ItemReview:
    library: str
    item_id: str
    title: str
    secret: bool
    state: str
    accepted_by: str
    rule: str
    not_syllables: float | None
    confidence: float | None
    han_nom: bool
    pages: list[PageEntry]
    events: list[EventEntry]
    queue_url: str
    accept_url: str
    return_url: str
    may_review: bool = False
    message: str | None = None


@dataclass(frozen=True)
class UserEntry:
    name: str
    roles: list[str]
    url: str  # where the form changing its roles posts


def queue_page(context: site.Context, view: QueueView) -> str:
    lang = pages.language(context.lang)
    unknown = set(view.filters) - set(QUEUE_FILTERS)
    if unknown:
        raise ValueError(f"unknown queue filter {sorted(unknown)[0]!r}: one of {', '.join(QUEUE_FILTERS)}")
    return site._render("review_queue.html", context, view=view, lang_url=lambda url: pages.link(url, lang))


def item_page(context: site.Context, view: ItemReview) -> str:
    for event in view.events:
        if event.action not in ACTIONS:
            raise ValueError(f"unknown review action {event.action!r}")
    return site._render("review_item.html", context, view=view, kinds=RETURN_KINDS)


def users_page(context: site.Context, users: list[UserEntry], roles: tuple[str, ...], message: str | None = None) -> str:
    return site._render("staff_users.html", context, users=users, roles=roles, message=message)
