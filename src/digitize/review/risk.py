"""What makes an item risky to accept unseen, from its page records: the share of words that are
not Vietnamese syllables, the mean word confidence, the pages the pipeline lists "to review"
(``engine.pipeline.to_review``: more non-syllables than the profile's ``review_above``) and
whether it is Hán-Nôm (its profile needs transcription). Kept as the item's ``review_risk``; the
review queue is ordered by it, riskiest first."""

from __future__ import annotations

from digitize.core.models import PageRecord, Profile


def is_flagged(profile: Profile, record: PageRecord) -> bool:
    """Whether the page is one the pipeline lists "to review" (the same rule as ``to_review``)."""
    return (profile.review_above is not None and record.not_syllables is not None
            and record.not_syllables > profile.review_above)


def item_risk(profile: Profile, records: list[PageRecord]) -> dict:
    """The item's review_risk: not_syllables (its pages weighted by their words), confidence (mean
    of its pages'), flagged_pages, han_nom, and the profile (the queue filters by it)."""
    judged = [r for r in records if r.not_syllables is not None and r.words]
    words = sum(r.words for r in judged)
    confidences = [r.confidence for r in records if r.confidence is not None]
    flagged = sorted(r.number for r in records if is_flagged(profile, r))
    return {"not_syllables": round(sum(r.not_syllables * r.words for r in judged) / words, 4) if words else None,
            "confidence": round(sum(confidences) / len(confidences), 2) if confidences else None,
            "flagged_pages": flagged, "han_nom": bool(profile.needs_transcription), "profile": profile.name,
            "page_not_syllables": {str(r.number): r.not_syllables for r in records if r.number in flagged}}


def order(risk: dict | None) -> tuple:
    """The sort key of an item in the queue, riskiest first: Hán-Nôm, then more flagged pages, a
    larger share of non-syllables, a lower confidence. An item without figures (stored before
    review existed) comes after those with figures that show a risk."""
    risk = risk or {}
    confidence = risk.get("confidence")
    return (not risk.get("han_nom"), -len(risk.get("flagged_pages") or []), -(risk.get("not_syllables") or 0.0),
            confidence if confidence is not None else 100.0)
