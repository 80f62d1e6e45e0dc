"""Acceptance by sample in the ledger: the samples drawn from a batch's pages and what reviewers
found on each sampled page (digitize.review.sampling draws, records and decides)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from digitize.ledger.database import Base, utcnow

ACCEPTED, REJECTED = "accepted", "rejected"  # a sample's decision ("" while undecided)


class BatchSample(Base):
    """A random sample of a batch's pages under an ISO 2859-1 single sampling plan. ``items``: the
    lot, [[library, item_id], ...]; ``pages``: the sample, [[library, item_id, page], ...] in the
    lot's order."""

    __tablename__ = "batch_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(1000), index=True)
    drawn: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    drawn_by: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    aql: Mapped[float] = mapped_column(Float)
    lot_size: Mapped[int] = mapped_column(Integer)
    code_letter: Mapped[str] = mapped_column(String(1))
    sample_size: Mapped[int] = mapped_column(Integer)
    acceptance_number: Mapped[int] = mapped_column(Integer)
    rejection_number: Mapped[int] = mapped_column(Integer)
    items: Mapped[list] = mapped_column(JSON)
    pages: Mapped[list] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(16), default="")
    decided: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    defects: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SampleFinding(Base):
    """What a reviewer found on one sampled page: defective or not, and a note."""

    __tablename__ = "sample_findings"

    sample: Mapped[int] = mapped_column(ForeignKey("batch_samples.id"), primary_key=True)
    item: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    defective: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(2000), default="")
    reviewer: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
