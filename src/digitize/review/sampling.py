"""Acceptance by sample: a batch's pages are the lot, a seeded random sample of them is inspected,
and the batch is accepted or rejected by ISO 2859-1's single sampling plan for normal inspection,
general inspection level II, at the library's AQL (libraries.toml ``aql``, 2.5 by default).

The plans: Table 1 gives the lot's sample size code letter, Table 2-A the sample size n, the
acceptance number Ac and the rejection number Re for that letter and the AQL. Where Table 2-A
has an arrow instead of a plan, the first plan in the arrow's direction is used, with its own
sample size; where n is the lot size or more, every unit is inspected. A unit is one page of an
item of the batch that is in review (Hán-Nôm items are always reviewed one by one, so never in a
lot). D defective pages in the sample: D <= Ac accepts the batch, D >= Re rejects it.

In the ledger (digitize.ledger.sampling): ``draw_sample`` records who drew which pages with which
seed under which plan; ``record_finding`` what a reviewer found on a sampled page; ``decide_batch``
accepts every item of the lot still in review (rule ``sample``) or returns them all, with a review
event each naming the reviewer."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.core.errors import BadInput, ConfigError
from digitize.core.i18n import N_
from digitize.core.profiles import AQL_SERIES, LibraryDeclaration
from digitize.ledger import accounts
from digitize.ledger.database import BatchRun, Item, utcnow
from digitize.ledger.review import ACCEPTED, IN_REVIEW, RETURNED, ReviewEvent
from digitize.ledger.sampling import ACCEPTED as SAMPLE_ACCEPTED, REJECTED, BatchSample, SampleFinding
from digitize.review import decisions
from digitize.store.storage import Store

DEFAULT_AQL = 2.5

# Table 1, general inspection level II: the largest lot size of each code letter (Q: above 500 000)
CODE_LETTERS = (("A", 8), ("B", 15), ("C", 25), ("D", 50), ("E", 90), ("F", 150), ("G", 280), ("H", 500),
                ("J", 1200), ("K", 3200), ("L", 10000), ("M", 35000), ("N", 150000), ("P", 500000),
                ("Q", None))
# Table 2-A: the sample size of each code letter (R is reached only by an arrow)
SAMPLE_SIZES = {"A": 2, "B": 3, "C": 5, "D": 8, "E": 13, "F": 20, "G": 32, "H": 50, "J": 80, "K": 125, "L": 200,
                "M": 315, "N": 500, "P": 800, "Q": 1250, "R": 2000}
LETTERS = tuple(SAMPLE_SIZES)
# Table 2-A for AQLs up to 10 runs along its diagonals: a cell's plan depends only on its row
# (letter, A = 0) plus its column (AQL_SERIES, 0.010 = 0). Below 14: the arrow down to the 0/1 plan;
# 15: the arrow up (to 0/1); 16: the arrow down (to 1/2); 25 and over: the arrow up (to 21/22).
DIAGONAL = {14: (0, 1), 17: (1, 2), 18: (2, 3), 19: (3, 4), 20: (5, 6), 21: (7, 8), 22: (10, 11), 23: (14, 15),
            24: (21, 22)}
UP, DOWN = -1, 1


@dataclass(frozen=True)
class Plan:
    """A single sampling plan for a lot: Table 1's letter, and the plan Table 2-A gives for it (the
    letter of the row an arrow led to, its sample size, Ac, Re); ``sample_size`` is the lot size
    when the plan's is as large or larger (100 % inspection)."""

    lot_size: int
    aql: float
    lot_letter: str
    letter: str
    sample_size: int
    accept: int  # Ac: at most this many defective units accept the lot
    reject: int  # Re: this many or more reject it

    @property
    def every_unit(self) -> bool:
        return self.sample_size >= self.lot_size

    def describe(self) -> str:
        arrow = f" (Table 2-A arrow: plan of {self.letter})" if self.letter != self.lot_letter else ""
        return (f"ISO 2859-1, single sampling, normal inspection, level II: lot {self.lot_size}, code letter "
                f"{self.lot_letter}{arrow}, AQL {self.aql:g}: n={self.sample_size}"
                f"{' (100 %)' if self.every_unit else ''}, Ac={self.accept}, Re={self.reject}")


def code_letter(lot_size: int) -> str:
    """Table 1 (general inspection level II): the sample size code letter of a lot."""
    if lot_size < 1:
        raise ValueError(f"a lot has at least one unit, not {lot_size}")
    return next(letter for letter, largest in CODE_LETTERS if largest is None or lot_size <= largest)


def _aql_column(aql: float) -> int:
    for column, step in enumerate(AQL_SERIES):
        if abs(aql - step) < 1e-9:
            return column
    raise ConfigError(f"AQL {aql:g} is not in ISO 2859-1's table", "libraries.toml",
                      f"use one of: {', '.join(f'{s:g}' for s in AQL_SERIES)}")


def table_2a(letter: str, aql: float) -> tuple[str, int, int]:
    """Table 2-A (normal inspection, single sampling): (letter, Ac, Re) of the plan for ``letter``
    and ``aql``, following the table's arrows to the row of the plan they point to. Two arrows
    point off the table (A at AQL 10 up, R at AQL 0.015 down): they are followed the other way."""
    column, row = _aql_column(aql), LETTERS.index(letter)
    diagonal = row + column
    direction = DOWN if diagonal < 14 or diagonal == 16 else UP
    while (row + column) not in DIAGONAL:
        if not 0 <= row + direction < len(LETTERS):
            direction = -direction
        row += direction
    accept, reject = DIAGONAL[row + column]
    return LETTERS[row], accept, reject


def plan_for(lot_size: int, aql: float = DEFAULT_AQL) -> Plan:
    """The single sampling plan for a lot of ``lot_size`` units at ``aql`` (ISO 2859-1, normal
    inspection, general inspection level II)."""
    lot_letter = code_letter(lot_size)
    letter, accept, reject = table_2a(lot_letter, aql)
    return Plan(lot_size=lot_size, aql=aql, lot_letter=lot_letter, letter=letter,
                sample_size=min(SAMPLE_SIZES[letter], lot_size), accept=accept, reject=reject)


def draw(units: list, size: int, seed: int) -> list:
    """``size`` of the ``units`` (in their given order) chosen at random with ``seed``, in the units'
    order: the same units and seed always give the same sample."""
    chosen = set(random.Random(seed).sample(range(len(units)), min(size, len(units))))
    return [unit for number, unit in enumerate(units) if number in chosen]


def decision(plan: Plan, defects: int) -> str | None:
    """accepted (D <= Ac), rejected (D >= Re)."""
    return SAMPLE_ACCEPTED if defects <= plan.accept else REJECTED if defects >= plan.reject else None


# --- the ledger --------------------------------------------------------------------------------


@dataclass
class Lot:
    batch: str  # the batch folder as the ledger knows it
    items: list[Item]  # in review, not Hán-Nôm, ordered by library and id

    @property
    def units(self) -> list[tuple[str, str, int]]:
        return [(item.library, item.item_id, page) for item in self.items for page in range(1, item.pages + 1)]


def find_batch(session: Session, batch: str) -> str:
    """The batch as the ledger records it (its folder, resolved) from a folder or a folder's name."""
    known = sorted(set(session.scalars(select(BatchRun.batch))))
    given = str(Path(batch).expanduser().resolve())
    if given in known:
        return given
    named = [run for run in known if Path(run).name == Path(batch).name]
    if len(named) == 1:
        return named[0]
    if named:
        raise BadInput(N_("several batches have this name"), batch,
                       N_("give the batch folder's full path: {batches}", batches=", ".join(named)))
    raise BadInput(N_("no run of this batch in the ledger"), batch,
                   N_("give the folder that `digitize run` was given"))


def batch_lot(session: Session, batch: str) -> Lot:
    """The lot of a batch: the items it stored that are in review (Hán-Nôm items are left out:
    they are always reviewed one by one)."""
    key = find_batch(session, batch)
    items = session.scalars(select(Item).join(BatchRun, Item.run_id == BatchRun.id).where(
        BatchRun.batch == key, Item.status == "ok", Item.review_state == IN_REVIEW)
        .order_by(Item.library, Item.item_id)).all()
    return Lot(key, [item for item in items if not (item.review_risk or {}).get("han_nom") and item.pages > 0])


def check_reviewer(session: Session, name: str) -> None:
    """Only a staff member with the reviewer role inspects samples and decides."""
    user = accounts.find_user(session, name)
    if user is None or "reviewer" not in accounts.roles_of(user):
        raise BadInput(N_("not a staff account with the reviewer role"), name,
                       N_("name a reviewer (digitize user list shows the accounts); an administrator gives the role"))


def open_sample(session: Session, batch: str) -> BatchSample | None:
    """The batch's sample drawn and not decided yet, if any."""
    return session.scalars(select(BatchSample).where(BatchSample.batch == batch, BatchSample.decision == "")
                           .order_by(BatchSample.id.desc())).first()


def latest_sample(session: Session, batch: str) -> BatchSample | None:
    return session.scalars(select(BatchSample).where(BatchSample.batch == batch)
                           .order_by(BatchSample.id.desc())).first()


def lot_aql(lot: Lot, libraries: dict[str, LibraryDeclaration]) -> float:
    """The AQL of the lot: its library's (the strictest, if the batch holds items of several)."""
    return min((libraries[code].aql if code in libraries else DEFAULT_AQL) for code in {i.library for i in lot.items})


def sample_plan(sample: BatchSample) -> Plan:
    return Plan(lot_size=sample.lot_size, aql=sample.aql, lot_letter=code_letter(sample.lot_size),
                letter=sample.code_letter, sample_size=sample.sample_size, accept=sample.acceptance_number,
                reject=sample.rejection_number)


def draw_sample(session: Session, batch: str, reviewer: str, libraries: dict[str, LibraryDeclaration],
                seed: int | None = None, now: datetime | None = None) -> BatchSample:
    """Draw (and record) the sample of a batch's pages to inspect. A sample still open is given
    back as it is (the same seed, or none given): a sample is not drawn again until decided, so
    that no one can draw until the pages suit them."""
    check_reviewer(session, reviewer)
    lot = batch_lot(session, batch)
    current = open_sample(session, lot.batch)
    if current is not None:
        if seed is None or seed == current.seed:
            return current
        raise BadInput(N_("this batch's sample (seed {seed}, drawn by {who}) is not decided yet", seed=current.seed,
                          who=current.drawn_by), batch,
                       N_("record the findings on its pages and decide (digitize acceptance decide)"))
    if not lot.items:
        raise BadInput(N_("no item of this batch is in review"), batch,
                       N_("nothing to accept by sample: see digitize review list"))
    units = lot.units
    plan = plan_for(len(units), lot_aql(lot, libraries))
    seed = secrets.randbelow(2 ** 31) if seed is None else seed
    sample = BatchSample(batch=lot.batch, drawn=now or utcnow(), drawn_by=reviewer, seed=seed, aql=plan.aql,
                         lot_size=plan.lot_size, code_letter=plan.letter, sample_size=plan.sample_size,
                         acceptance_number=plan.accept, rejection_number=plan.reject,
                         items=[[item.library, item.item_id] for item in lot.items],
                         pages=[list(unit) for unit in draw(units, plan.sample_size, seed)])
    session.add(sample)
    session.commit()
    return sample


def _item(session: Session, library: str, item_id: str) -> Item:
    return session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id)).one()


def record_finding(session: Session, batch: str, item_id: str, page: int, defective: bool, note: str,
                   reviewer: str, now: datetime | None = None) -> SampleFinding:
    """What ``reviewer`` found on a sampled page (``item_id`` may be ``LIBRARY/ITEM`` where the batch
    holds the same id in two libraries); a second finding on the page replaces the first."""
    check_reviewer(session, reviewer)
    key = find_batch(session, batch)
    sample = open_sample(session, key)
    if sample is None:
        raise BadInput(N_("no sample of this batch is open"), batch, N_("draw one first: digitize acceptance sample"))
    library, _, bare = item_id.rpartition("/")
    matches = [(lib, item) for lib, item, number in sample.pages
               if item == bare and number == page and library in ("", lib)]
    if len(matches) != 1:
        where = f"{item_id} p. {page}"
        if matches:
            raise BadInput(N_("the item id is in several libraries of this batch"), where,
                           N_("give it as LIBRARY/ITEM"))
        raise BadInput(N_("this page is not in the batch's sample"), where,
                       N_("inspect only the sampled pages: digitize acceptance sample {batch} lists them", batch=batch))
    item = _item(session, *matches[0])
    finding = session.get(SampleFinding, (sample.id, item.id, page)) or SampleFinding(sample=sample.id, item=item.id,
                                                                                       page=page)
    finding.defective, finding.note, finding.reviewer, finding.at = defective, note.strip(), reviewer, now or utcnow()
    session.add(finding)
    session.commit()
    return finding


@dataclass
class Decision:
    sample: BatchSample
    plan: Plan
    defects: int
    inspected: int
    decided: list[str]  # the items accepted or returned ("library/item")
    left: list[str]  # items of the lot no longer in review when decided (accepted or returned by a
    # reviewer meanwhile), left as they are

    @property
    def accepted(self) -> bool:
        return self.sample.decision == SAMPLE_ACCEPTED

    @property
    def reason(self) -> str:
        word = "accepted" if self.accepted else "rejected"
        return (f"sample {word}: {self.defects} defects in {self.plan.sample_size} pages "
                f"(Ac={self.plan.accept}, Re={self.plan.reject})")


def findings_of(session: Session, sample: BatchSample) -> list[tuple[str, str, int, SampleFinding | None]]:
    """Each sampled page (library, item id, page) with its finding (None: not inspected yet)."""
    ids = {(lib, item): number for number, lib, item in session.execute(
        select(Item.id, Item.library, Item.item_id).where(Item.item_id.in_({p[1] for p in sample.pages})))}
    found = {(f.item, f.page): f for f in session.scalars(select(SampleFinding).where(SampleFinding.sample == sample.id))}
    return [(lib, item, page, found.get((ids.get((lib, item)), page))) for lib, item, page in sample.pages]


def decide_batch(session: Session, store: Store, batch: str, reviewer: str, now: datetime | None = None) -> Decision:
    """Decide the batch by its open sample: accepted (D <= Ac), every item of the lot still in review
    is accepted by the rule ``sample``; rejected (D >= Re), each is returned with the reason. Every
    sampled page needs a finding first (a rejection may come as soon as Re defects are found)."""
    check_reviewer(session, reviewer)
    key = find_batch(session, batch)
    sample = open_sample(session, key)
    if sample is None:
        raise BadInput(N_("no sample of this batch is open"), batch, N_("draw one first: digitize acceptance sample"))
    plan = sample_plan(sample)
    pages = findings_of(session, sample)
    defects = sum(1 for *_, f in pages if f is not None and f.defective)
    missing = [f"{lib}/{item} p. {page}" for lib, item, page, f in pages if f is None]
    if missing and defects < plan.reject:
        raise BadInput(N_("{count} sampled pages have no finding yet: {pages}", count=len(missing),
                          pages=", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")), batch,
                       N_("record a finding for each (digitize acceptance finding)"))
    moment = now or utcnow()
    sample.decision = decision(plan, defects) or REJECTED
    sample.decided, sample.decided_by, sample.defects = moment, reviewer, defects
    inspected = len(pages) - len(missing)
    result = Decision(sample, plan, defects, inspected, [], [])
    sampled = {}
    for lib, item, page, found in pages:
        sampled.setdefault((lib, item), []).append((page, found))
    session.commit()
    for library, item_id in sample.items:
        item = _item(session, library, item_id)
        if item.review_state != IN_REVIEW:
            result.left.append(f"{library}/{item_id}")
            continue
        seen = sampled.get((library, item_id), [])
        if result.accepted:
            decisions.accept(session, store, item, reviewer, "sample", result.reason)
        else:
            defective = [page for page, found in seen if found is not None and found.defective]
            decisions.send_back(session, store, item, reviewer, result.reason, defective)
        result.decided.append(f"{library}/{item_id}")
    return result


@dataclass
class ErrorRate:
    changed: int  # characters the reviewers changed (edit distance)
    characters: int  # characters of the lines before correction
    lines: int

    @property
    def rate(self) -> float | None:
        return self.changed / self.characters if self.lines and self.characters else None


def measured_error_rate(session: Session, item_ids: list[int]) -> ErrorRate:
    """The pipeline's character error rate on the lines reviewers corrected in these items: the sum
    of their edit distances over the sum of their lengths ("corrected" review events)."""
    changed = characters = lines = 0
    for detail in session.scalars(select(ReviewEvent.detail).where(ReviewEvent.item.in_(item_ids),
                                                                   ReviewEvent.action == "corrected")):
        if detail and "characters" in detail:
            changed += int(detail.get("changed", 0))
            characters += int(detail["characters"])
            lines += 1
    return ErrorRate(changed, characters, lines)
