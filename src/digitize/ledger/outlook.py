"""By when: a library's progress (ledger/quota.py) held against its province plan's deadline and
horizon: whether the target is met, on track (reached by the deadline at the pace of the last 90
days), late by how many months, or not reached at this pace; how many items are still missing;
and the figures added up per province."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from digitize.core.models import Category
from digitize.ledger.plans import Plan
from digitize.ledger.quota import Progress

# What an outlook says, for the pages' words: no target for this category and tier; no holdings
# registered (no denominator); the target met; reached by the deadline; reached after it; or not
# at all at the pace of the last 90 days.
NO_TARGET, NO_HOLDINGS, MET, ON_TRACK, LATE, NO_PACE = "no_target", "no_holdings", "met", "on_track", "late", "no_pace"


@dataclass(frozen=True)
class Outlook:
    state: str  # one of the states above
    deadline: date | None  # the plan's (None without a plan)
    horizon: date | None
    missing: int  # items still to accept to reach the target (0 when met or without a target)
    months_late: int  # whole months (begun) after the deadline the target is projected (0 unless late)
    within_horizon: bool | None  # projected by the horizon (None when nothing is projected)


def months_after(deadline: date, day: date) -> int:
    """How many months ``day`` comes after ``deadline``, a month begun counting whole: 31/12/2025 to
    01/01/2026 is 1, to 31/01/2026 is 1, to 01/02/2026 is 2; 0 when it is not after."""
    if day <= deadline:
        return 0
    months = (day.year - deadline.year) * 12 + day.month - deadline.month
    return months + 1 if day.day > deadline.day else max(months, 1)


def outlook(row: Progress, plan: Plan | None) -> Outlook:
    deadline, horizon = (plan.deadline, plan.horizon) if plan else (None, None)
    if row.target is None:
        return Outlook(NO_TARGET, deadline, horizon, 0, 0, None)
    if not row.holdings:
        return Outlook(NO_HOLDINGS, deadline, horizon, 0, 0, None)
    missing = max(math.ceil(row.target * row.holdings / 100) - row.digitized, 0)
    if missing == 0:
        return Outlook(MET, deadline, horizon, 0, 0, True if horizon is None else row.projected <= horizon)
    if row.projected is None:
        return Outlook(NO_PACE, deadline, horizon, missing, 0, None)
    within = None if horizon is None else row.projected <= horizon
    if deadline is None or row.projected <= deadline:
        return Outlook(ON_TRACK, deadline, horizon, missing, 0, within)
    return Outlook(LATE, deadline, horizon, missing, months_after(deadline, row.projected), within)


@dataclass(frozen=True)
class ProvinceTotal:
    """A province's libraries added up for one category, or for all (``category`` None)."""

    province: str
    name: str  # as the plan writes it (the code without a plan)
    category: str | None
    libraries: int
    holdings: int
    accepted: int
    missing: int  # the sum of the libraries' missing items: a library ahead does not make up for one behind
    percent: float


def province_totals(rows: list[Progress], plans: dict[str, Plan]) -> list[ProvinceTotal]:
    """Per province, a line per category and then the province's total, in the rows' order."""
    totals: list[ProvinceTotal] = []
    for province in dict.fromkeys(r.province for r in rows):
        members = [r for r in rows if r.province == province]
        plan = plans.get(province)
        name = plan.name if plan else province
        order = [c.value for c in Category]  # as the pages list them: địa chí, rare, endogenous, other
        groups = [(category, [r for r in members if r.category == category])
                  for category in sorted({r.category for r in members}, key=order.index)]
        for category, group in [*groups, (None, members)]:
            holdings, accepted = sum(r.holdings for r in group), sum(r.digitized for r in group)
            totals.append(ProvinceTotal(
                province, name, category, len({r.library for r in group}), holdings, accepted,
                sum(outlook(r, plan).missing for r in group),
                round(100.0 * accepted / holdings, 2) if holdings else 0.0))
    return totals
