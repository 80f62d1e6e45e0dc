"""The acceptance report (biên bản nghiệm thu) of a batch accepted or rejected by sample, as PDF/A
for the file and CSV for a spreadsheet: the batch, its items and pages, the sample (plan, seed, the
pages), the reviewers, the findings, the character error rate measured on the lines reviewers
corrected, the decision and its date. Headings in Vietnamese, then English (core.i18n); a secret
item is named by its id only, never by its title."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitize.capture.pdf import PdfInfo
from digitize.capture.textpdf import TITLE, Heading, Paragraph, Table, write_text_pdfa
from digitize.core.files import safe_component, write_atomic
from digitize.core.i18n import N_, Text, bilingual
from digitize.ledger.database import Item
from digitize.ledger.sampling import ACCEPTED, BatchSample
from digitize.review.sampling import ErrorRate, Plan, findings_of, measured_error_rate, sample_plan

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may take for a formula (OWASP)


@dataclass
class PageFinding:
    item: str  # library/item id
    page: int
    defective: bool | None  # None: not inspected (a rejection made before every page was seen)
    note: str
    reviewer: str


@dataclass
class AcceptanceFacts:
    batch: str
    items: list[tuple[str, str, int, str]]  # library/item id, title (empty for a secret item), pages, state
    lot_pages: int
    plan: Plan
    seed: int
    drawn: datetime
    drawn_by: str
    pages: list[PageFinding]
    defects: int
    error_rate: ErrorRate
    decision: str  # accepted | rejected | "" (not decided)
    decided: datetime | None
    decided_by: str

    @property
    def reviewers(self) -> list[str]:
        names = [self.drawn_by, *(p.reviewer for p in self.pages if p.reviewer), self.decided_by]
        return list(dict.fromkeys(name for name in names if name))


def acceptance_facts(session: Session, sample: BatchSample) -> AcceptanceFacts:
    """What the report says about ``sample``, read from the ledger."""
    items = []
    ids = []
    for library, item_id in sample.items:
        item = session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id)).one()
        ids.append(item.id)
        items.append((f"{library}/{item_id}", "" if item.access == "secret" else item.title, item.pages,
                      item.review_state))
    pages = [PageFinding(f"{lib}/{item}", page, None if f is None else f.defective, "" if f is None else f.note,
                         "" if f is None else f.reviewer) for lib, item, page, f in findings_of(session, sample)]
    return AcceptanceFacts(
        batch=sample.batch, items=items, lot_pages=sample.lot_size, plan=sample_plan(sample), seed=sample.seed,
        drawn=sample.drawn, drawn_by=sample.drawn_by, pages=pages,
        defects=sum(1 for p in pages if p.defective), error_rate=measured_error_rate(session, ids),
        decision=sample.decision, decided=sample.decided, decided_by=sample.decided_by)


def _b(text: Text) -> str:
    """Words in Vietnamese, then English: "Lô / Batch"."""
    return bilingual(text, " / ")


def _rate(rate: ErrorRate) -> str:
    if rate.rate is None:
        return _b(N_("not measured (no line corrected)"))
    return f"{rate.rate * 100:.2f} % (" + _b(N_("{changed} of {characters} characters, {lines} lines",
                                                changed=rate.changed, characters=rate.characters,
                                                lines=rate.lines)) + ")"


def _decision(decision: str) -> str:
    if decision == ACCEPTED:
        return _b(N_("Accepted"))
    if decision:
        return _b(N_("Rejected: the items are returned"))
    return _b(N_("Not decided yet"))


def _defect(defective: bool | None) -> str:
    if defective is None:
        return _b(N_("not inspected"))
    return _b(N_("defective")) if defective else _b(N_("no defect"))


def _state(state: str) -> str:
    return {"in_review": _b(N_("in review")), "accepted": _b(N_("accepted")),
            "returned": _b(N_("returned"))}.get(state, state)


def _plan_words(plan: Plan) -> str:
    arrow = f" → {plan.letter}" if plan.letter != plan.lot_letter else ""
    every = " (100 %)" if plan.every_unit else ""
    return (f"ISO 2859-1, 1 × (single), II: AQL {plan.aql:g}; {plan.lot_letter}{arrow}; n = {plan.sample_size}{every}; "
            f"Ac = {plan.accept}; Re = {plan.reject}")


def write_acceptance_report(facts: AcceptanceFacts, folder: Path) -> tuple[Path, Path]:
    """The report as PDF/A-2b and CSV in ``folder``; returns their paths."""
    date = f"{(facts.decided or facts.drawn):%Y-%m-%d}"
    rate, decision = _rate(facts.error_rate), _decision(facts.decision)
    summary = [
        (_b(N_("Batch")), facts.batch),
        (_b(N_("Items")), str(len(facts.items))),
        (_b(N_("Pages in the lot")), str(facts.lot_pages)),
        (_b(N_("Sampling plan")), _plan_words(facts.plan)),
        (_b(N_("Random seed")), str(facts.seed)),
        (_b(N_("Sample drawn")), f"{facts.drawn:%Y-%m-%d %H:%M} UTC, {facts.drawn_by}"),
        (_b(N_("Reviewers")), ", ".join(facts.reviewers)),
        (_b(N_("Defective pages in the sample")), f"{facts.defects} / {len(facts.pages)}"),
        (_b(N_("Character error rate of the pipeline on the reviewed lines")), rate),
        (_b(N_("Decision")), decision),
        (_b(N_("Date")), date),
    ]
    name = f"nghiem-thu-{safe_component(Path(facts.batch).name) or 'batch'}-{date}"
    pdf_path, csv_path = folder / f"{name}.pdf", folder / f"{name}.csv"
    folder.mkdir(parents=True, exist_ok=True)
    blocks = [Heading(_b(N_("ACCEPTANCE REPORT")), TITLE),
              Paragraph(_b(N_("Acceptance of a digitized batch by sample inspection (ISO 2859-1)"))),
              Table([_b(N_("Subject")), _b(N_("Value"))], [list(row) for row in summary], [2, 3]),
              Heading(_b(N_("Sampled pages and findings"))),
              Table([_b(N_("Item")), _b(N_("Page")), _b(N_("Finding")), _b(N_("Note")), _b(N_("Reviewer"))],
                    [[p.item, str(p.page), _defect(p.defective), p.note, p.reviewer] for p in facts.pages],
                    [3, 1, 2.5, 4, 2]),
              Heading(_b(N_("Items of the batch"))),
              Table([_b(N_("Item")), _b(N_("Title")), _b(N_("Pages")), _b(N_("State"))],
                    [[item, title, str(pages), _state(state)] for item, title, pages, state in facts.items], [3, 5, 1, 2]),
              Paragraph(""),
              Paragraph(_b(N_("Reviewer (signature, full name)")))]
    title = _b(N_("ACCEPTANCE REPORT")) + " · " + Path(facts.batch).name
    write_text_pdfa(blocks, pdf_path, PdfInfo(title=title, creators=facts.reviewers, languages=["vie", "eng"],
                                              identifier=name))
    _write_csv(facts, csv_path, rate, decision, date)
    return pdf_path, csv_path


def _write_csv(facts: AcceptanceFacts, path: Path, rate: str, decision: str, date: str) -> None:
    """One row per sampled page, the batch's figures on every row (a spreadsheet filters and sums
    it as it is); UTF-8 with a byte-order mark for Excel; text never read as a formula."""
    def cell(value):
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    headers = [_b(N_("Batch")), _b(N_("Items")), _b(N_("Pages in the lot")), "AQL", _b(N_("Code letter")),
               _b(N_("Sample size")), "Ac", "Re", _b(N_("Random seed")), _b(N_("Item")), _b(N_("Page")),
               _b(N_("Defective")), _b(N_("Note")), _b(N_("Reviewer")), _b(N_("Defective pages in the sample")),
               _b(N_("Character error rate")), _b(N_("Characters changed")), _b(N_("Characters reviewed")),
               _b(N_("Lines corrected")), _b(N_("Decision")), _b(N_("Date"))]
    measured = facts.error_rate.rate
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(headers)
    for page in facts.pages:
        writer.writerow([cell(v) for v in (
            facts.batch, len(facts.items), facts.lot_pages, f"{facts.plan.aql:g}", facts.plan.letter,
            facts.plan.sample_size, facts.plan.accept, facts.plan.reject, facts.seed, page.item, page.page,
            "" if page.defective is None else int(page.defective), page.note, page.reviewer, facts.defects,
            f"{measured:.4f}" if measured is not None else rate, facts.error_rate.changed,
            facts.error_rate.characters, facts.error_rate.lines, decision, date)])
    write_atomic(path, "\ufeff" + text.getvalue())
