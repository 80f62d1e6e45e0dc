"""Items a run stored go in review: their risk from the page records, the rule of their library and
profile (libraries.toml), a ``digitized`` event (``reopened`` for an item run again), and, under
the ``automatic`` rule with no page flagged and not Hán-Nôm, acceptance by that rule at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core.models import PageRecord, Profile
from digitize.core.profiles import LibraryDeclaration
from digitize.ledger import review
from digitize.ledger.database import answering
from digitize.review.risk import item_risk


@dataclass(frozen=True)
class Arrival:
    """An item of a run: ``stored_now`` when this run stored it (made or described anew), False
    when an earlier run did and this one left it as it was."""

    library: str
    item_id: str
    profile: Profile
    pages: list[PageRecord]
    stored_now: bool = True


def record_arrivals(session: Session, arrivals: list[Arrival],
                    libraries: dict[str, LibraryDeclaration]) -> list[review.ReviewEvent]:
    """Put in review each item stored now (or left as it was but never put in review), and commit."""
    events = []
    with answering(session):
        for arrival in arrivals:
            item = review.find(session, arrival.library, arrival.item_id)
            if item is None:
                continue
            if not arrival.stored_now and session.scalar(
                    select(review.ReviewEvent.id).where(review.ReviewEvent.item == item.id).limit(1)) is not None:
                continue
            rule = review.rule_for(libraries.get(arrival.library), arrival.profile.name,
                                   arrival.profile.needs_transcription)
            events += review.arrived(session, item, item_risk(arrival.profile, arrival.pages), rule)
        session.commit()
    return events
