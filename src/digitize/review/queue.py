"""The review queue: the stored items awaiting review (or in another state asked for), riskiest
first (``risk.order``), filtered by library, batch, profile and state. Staff only: secret items
are listed here too (the staff area and the command line), never on anything public."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.ledger.database import BatchRun, Item, answering
from digitize.ledger.review import IN_REVIEW
from digitize.review import risk as risks

STATES = ("in_review", "accepted", "returned")


@dataclass(frozen=True)
class QueueRow:
    library: str
    item_id: str
    title: str
    access: str
    state: str
    pages: int
    batch: str  # the batch folder's name of the item's last run
    profile: str  # "" for an item stored before review existed
    not_syllables: float | None
    confidence: float | None
    flagged_pages: list[int] = field(default_factory=list)
    han_nom: bool = False
    digitized: datetime | None = None
    accepted_by: str = ""
    acceptance_rule: str = ""


@dataclass(frozen=True)
class Filters:
    library: str | None = None
    batch: str | None = None  # the batch folder's name or path
    profile: str | None = None
    state: str | None = IN_REVIEW  # None: every state


def rows(session: Session, filters: Filters = Filters()) -> list[QueueRow]:
    """The items the filters select, riskiest first."""
    query = (select(Item, BatchRun.batch).outerjoin(BatchRun, Item.run_id == BatchRun.id)
             .where(Item.status == "ok", Item.withdrawn.is_(None)))
    if filters.library:
        query = query.where(Item.library == filters.library)
    if filters.state:
        query = query.where(Item.review_state == filters.state)
    with answering(session):
        found = session.execute(query.order_by(Item.digitized, Item.library, Item.item_id)).all()
    listed = []
    for item, batch in found:
        risk = item.review_risk or {}
        if filters.batch and filters.batch not in (batch, batch and Path(batch).name):
            continue
        if filters.profile and risk.get("profile") != filters.profile:
            continue
        listed.append((risks.order(risk), QueueRow(
            library=item.library, item_id=item.item_id, title=item.title, access=item.access, state=item.review_state,
            pages=item.pages, batch=Path(batch).name if batch else "", profile=risk.get("profile") or "",
            not_syllables=risk.get("not_syllables"), confidence=risk.get("confidence"),
            flagged_pages=list(risk.get("flagged_pages") or []), han_nom=bool(risk.get("han_nom")),
            digitized=item.digitized, accepted_by=item.accepted_by, acceptance_rule=item.acceptance_rule)))
    return [row for _, row in sorted(listed, key=lambda pair: pair[0])]


def choices(session: Session) -> dict[str, list[str]]:
    """The values the queue's filters offer: libraries, batches and profiles of stored items."""
    with answering(session):
        found = session.execute(select(Item.library, BatchRun.batch, Item.review_risk)
                                .outerjoin(BatchRun, Item.run_id == BatchRun.id).where(Item.status == "ok")).all()
    return {"library": sorted({library for library, _, _ in found}),
            "batch": sorted({Path(batch).name for _, batch, _ in found if batch}),
            "profile": sorted({(risk or {}).get("profile") for _, _, risk in found} - {None, ""}),
            "state": list(STATES)}
