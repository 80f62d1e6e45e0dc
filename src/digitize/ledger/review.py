"""Review and acceptance (nghiệm thu) in the ledger: the state of each item and page, and every
change with who, when and why. An item stored by a run is ``in_review``; a reviewer (or the
library's rule) makes it ``accepted``, or ``returned`` with a reason; quotas count accepted items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from digitize.ledger.database import Base, utcnow

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
