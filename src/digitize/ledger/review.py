"""Review and acceptance (nghiệm thu) in the ledger: the state of each item and page, and every
change with who, when and why. An item stored by a run is ``in_review``; a reviewer (or the
library's rule) makes it ``accepted``, or ``returned`` with a reason; quotas count accepted items."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from digitize.core.errors import BadInput, DigitizeError, ExitCode
from digitize.core.i18n import N_
from digitize.core.profiles import LibraryDeclaration
from digitize.ledger import accounts
from digitize.ledger.database import Base, BatchRun, Item, answering, utcnow

IN_REVIEW, ACCEPTED, RETURNED = "in_review", "accepted", "returned"
RULES = ("review", "sample", "automatic")  # a person accepts | a batch by a random sample | no page flagged


class PageReview(Base):
    """A page of an item as review left it: clean, flagged, corrected, transcribed or returned."""

    __tablename__ = "page_reviews"

    item: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    flags: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class ReviewEvent(Base):
    """One change to an item in review: digitized, accepted, returned, corrected, transcribed,
    rescanned, migrated. ``actor`` is the staff member's name, or ``digitize`` for a rule."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    state_from: Mapped[str] = mapped_column(String(16), default="")
    state_to: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(String(2000), default="")
    pages: Mapped[list | None] = mapped_column(JSON, nullable=True)
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)


# ---- refusals ----------------------------------------------------------------------------------

class ReviewRefused(BadInput):
    """A change the item's state does not allow (accepting an item not in review, returning one
    already returned), or a reason or pages that cannot be recorded."""


class NotReviewer(DigitizeError):
    """The staff member named to review is not an account with the reviewer role (a wrong command line)."""

    exit_code = ExitCode.usage


RETURN_KINDS = ("rescan", "metadata", "profile", "other")  # rescan pages N | wrong metadata | wrong profile
ARRIVAL_ACTOR = "digitize"  # the actor of what a run or a rule does


# ---- who may review, by which rule ----------------------------------------------------------------

def require_reviewer(session: Session, name: str) -> str:
    """``name`` if it is a staff account with the reviewer role, else NotReviewer saying what to do."""
    with answering(session):
        user = accounts.find_user(session, name) if isinstance(name, str) else None
    if user is None:
        raise NotReviewer(N_("there is no staff account named {name}", name=repr(name)), "--reviewer",
                          N_("name a reviewer's account (digitize user list shows them)"))
    if "reviewer" not in accounts.roles_of(user):
        raise NotReviewer(N_("{name} does not have the reviewer role", name=name), "--reviewer",
                          N_("name a reviewer, or an administrator gives the role: digitize user roles {name} "
                             "--add reviewer", name=name))
    return user.name


def rule_for(declared: LibraryDeclaration | None, profile: str, needs_transcription: bool = False) -> str:
    """How an item of this library and profile is accepted: the library's rule for the profile, else
    its rule, else ``review``; an item whose profile needs transcription (Hán-Nôm) is always reviewed."""
    if needs_transcription or declared is None:
        return "review"
    return declared.acceptance_per_profile.get(profile, declared.acceptance)


# ---- reading --------------------------------------------------------------------------------------

def find(session: Session, library: str, item_id: str) -> Item | None:
    """The stored item (any access: staff only), or None."""
    with answering(session):
        return session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id,
                                                  Item.status == "ok")).first()


def history(session: Session, item: Item) -> list[ReviewEvent]:
    """The item's review events, oldest first."""
    with answering(session):
        return list(session.scalars(select(ReviewEvent).where(ReviewEvent.item == item.id)
                                    .order_by(ReviewEvent.at, ReviewEvent.id)))


def page_states(session: Session, item: Item) -> dict[int, PageReview]:
    """The pages of the item that review or a rule looked at, by number."""
    with answering(session):
        return {row.page: row for row in session.scalars(select(PageReview).where(PageReview.item == item.id))}


def flagged_pages(item: Item) -> list[int]:
    return list((item.review_risk or {}).get("flagged_pages") or [])


# ---- changes, each with its event ---------------------------------------------------------------

def record_event(session: Session, item: Item, actor: str, action: str, *, state_to: str | None = None,
                 reason: str = "", pages: list[int] | None = None, detail: dict | None = None,
                 at: datetime | None = None) -> ReviewEvent:
    """Add an event to the item's history (not committed): ``state_to`` changes its state too. The
    other parts of review (corrections, transcription, rescans) record theirs with it."""
    event = ReviewEvent(item=item.id, at=at or utcnow(), actor=actor, action=action, state_from=item.review_state,
                        state_to=state_to or item.review_state, reason=reason[:2000],
                        pages=sorted(set(pages)) if pages else None, detail=detail)
    if state_to is not None:
        item.review_state = state_to
    session.add(event)
    return event


def accept(session: Session, item: Item, actor: str, rule: str = "review", reason: str = "",
           at: datetime | None = None) -> ReviewEvent:
    """The item accepted by ``actor`` (a reviewer's name, or ``digitize`` for a rule) under ``rule``;
    it counts toward the quota from now (or ``at``). Refused unless the item is in review."""
    if rule not in RULES:
        raise ValueError(f"unknown acceptance rule {rule!r}")
    _require_stored(item)
    if item.review_state != IN_REVIEW:
        raise ReviewRefused(N_("{item} is not in review ({state}): only an item in review is accepted",
                               item=item.item_id, state=item.review_state), f"{item.library}/{item.item_id}",
                            N_("an item returned is accepted after it is put back in review (run again, or "
                               "rescanned)"))
    with answering(session):
        now = at or utcnow()
        event = record_event(session, item, actor, "accepted", state_to=ACCEPTED, reason=reason,
                             detail={"rule": rule}, at=now)
        item.accepted, item.accepted_by, item.acceptance_rule = now, actor, rule
        session.commit()
    return event


def return_item(session: Session, item: Item, actor: str, reason: str, pages: list[int] | tuple = (),
                kind: str = "other") -> ReviewEvent:
    """The item sent back by ``actor`` with ``reason`` (``kind``: rescan the ``pages``, wrong
    metadata, wrong profile, other); it no longer counts toward the quota. Refused for an item
    already returned, without a reason, or with pages it does not have (rescan needs pages)."""
    _require_stored(item)
    where = f"{item.library}/{item.item_id}"
    if kind not in RETURN_KINDS:
        raise ReviewRefused(N_("unknown kind of return {kind}", kind=repr(kind)), where,
                            N_("use one of: {kinds}", kinds=", ".join(RETURN_KINDS)))
    if item.review_state == RETURNED:
        raise ReviewRefused(N_("{item} is returned already", item=item.item_id), where,
                            N_("it comes back in review when it is run again or rescanned"))
    reason = (reason or "").strip()
    if not reason:
        raise ReviewRefused(N_("a return needs its reason"), where,
                            N_("say what is wrong, so that the operator can fix it"))
    pages = sorted(set(pages))
    wrong = [n for n in pages if not 1 <= n <= item.pages]
    if wrong:
        raise ReviewRefused(N_("{item} has no page {pages} (it has {count})", item=item.item_id,
                               pages=", ".join(map(str, wrong)), count=item.pages), where,
                            N_("give page numbers from 1 to {count}", count=item.pages))
    if kind == "rescan" and not pages:
        raise ReviewRefused(N_("a return for rescan needs the pages to rescan"), where,
                            N_("give the page numbers, e.g. 2,5"))
    with answering(session):
        now = utcnow()
        event = record_event(session, item, actor, "returned", state_to=RETURNED, reason=reason, pages=pages,
                             detail={"kind": kind}, at=now)
        item.accepted, item.accepted_by = None, ""
        known = page_states(session, item)
        for number in pages:
            row = known.get(number) or PageReview(item=item.id, page=number, state=RETURNED)
            row.state, row.updated, row.updated_by = RETURNED, now, actor
            session.add(row)
        session.commit()
    return event


def put_in_review(session: Session, item: Item, actor: str, action: str = "reopened", reason: str = "",
                  pages: list[int] | None = None, commit: bool = True) -> ReviewEvent:
    """The item back in review (``action``: reopened by a new run, rescanned, ...): an accepted item
    no longer counts until it is accepted again. Refused for an item in review already."""
    _require_stored(item)
    if item.review_state == IN_REVIEW:
        raise ReviewRefused(N_("{item} is in review already", item=item.item_id), f"{item.library}/{item.item_id}",
                            N_("accept it or return it"))
    event = record_event(session, item, actor, action, state_to=IN_REVIEW, reason=reason, pages=pages)
    item.accepted, item.accepted_by = None, ""
    if commit:
        with answering(session):
            session.commit()
    return event


def arrived(session: Session, item: Item, risk: dict, rule: str, at: datetime | None = None) -> list[ReviewEvent]:
    """A run stored the item (not committed): in review with its ``risk`` (review_risk), a
    ``flagged`` row per flagged page, and a ``digitized`` event, or ``reopened`` when it had a
    history (a run with --new-version, a rescan, a metadata fix). Under the ``automatic`` rule,
    with no page flagged and not Hán-Nôm, it is accepted at once by that rule."""
    at = at or utcnow()
    had_history = session.scalar(select(ReviewEvent.id).where(ReviewEvent.item == item.id).limit(1)) is not None
    events = [record_event(session, item, ARRIVAL_ACTOR, "reopened" if had_history else "digitized",
                           state_to=IN_REVIEW, at=at,
                           reason="run again: back in review" if had_history else "",
                           detail={"rule": rule})]
    item.review_risk, item.acceptance_rule = dict(risk), rule
    item.accepted, item.accepted_by = None, ""
    flagged = risk.get("flagged_pages") or []
    known = page_states(session, item)
    for number in flagged:
        row = known.get(number)
        if row is None:
            session.add(PageReview(item=item.id, page=number, state="flagged", updated=at, updated_by=ARRIVAL_ACTOR,
                                   flags={"not_syllables": (risk.get("page_not_syllables") or {}).get(str(number))}))
        elif row.state in ("clean", RETURNED):
            row.state, row.updated, row.updated_by = "flagged", at, ARRIVAL_ACTOR
    if rule == "automatic" and not flagged and not risk.get("han_nom"):
        events.append(record_event(session, item, ARRIVAL_ACTOR, "accepted", state_to=ACCEPTED, at=at,
                                   reason="no page flagged", detail={"rule": "automatic"}))
        item.accepted, item.accepted_by = at, ARRIVAL_ACTOR
    return events


def batch_to_accept(session: Session, batch: str) -> tuple[list[Item], list[Item]]:
    """The batch's (its folder path or name) items in review: those that may be accepted with it (no
    flagged page, not Hán-Nôm: always reviewed one by one) and those left in review. ReviewRefused
    when no item came from the batch."""
    items = batch_items(session, batch)
    if not items:
        raise ReviewRefused(N_("no stored item comes from the batch {batch}", batch=repr(batch)), "--batch",
                            N_("give the batch folder's name or path as digitize review list shows it"))
    waiting = [item for item in items if item.review_state == IN_REVIEW]
    return [item for item in waiting if is_clean(item)], [item for item in waiting if not is_clean(item)]


def batch_name(batch: str) -> str:
    return Path(batch).name


def is_clean(item: Item) -> bool:
    """Whether the item may be accepted with its batch: no page flagged, not Hán-Nôm."""
    return not flagged_pages(item) and not (item.review_risk or {}).get("han_nom")


def batch_items(session: Session, batch: str) -> list[Item]:
    """The stored items whose last run was of ``batch`` (its folder's path, or its name)."""
    with answering(session):
        rows = session.execute(select(Item, BatchRun.batch).join(BatchRun, Item.run_id == BatchRun.id)
                               .where(Item.status == "ok").order_by(Item.library, Item.item_id)).all()
    return [item for item, folder in rows if batch in (folder, Path(folder).name)]


def _require_stored(item: Item) -> None:
    if item.status != "ok":
        raise ReviewRefused(N_("{item} is not stored: there is nothing to review", item=item.item_id),
                            f"{item.library}/{item.item_id}", N_("run its batch again"))
