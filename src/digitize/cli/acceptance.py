"""`digitize acceptance sample|finding|decide|report`: a batch accepted by inspecting a random sample
of its pages (ISO 2859-1, the library's AQL) and its acceptance report (biên bản nghiệm thu). The
work is in digitize.review.sampling and digitize.review.acceptance_report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from digitize.cli.language import _, described
from digitize.cli.output import console

acceptance_app = typer.Typer(help=_("Acceptance of a batch by a random sample of its pages (ISO 2859-1), and "
                                    "its acceptance report."))

REVIEWER = typer.Option(..., "--reviewer", help=_("the reviewer's staff account name"))


def _session():
    from digitize.core.settings import get_settings
    from digitize.ledger import database as ledger

    return ledger.open_ledger(get_settings().ledger_url)


@acceptance_app.command("sample")
@described(_("Draw the random sample of a batch's pages to inspect (or show the one drawn and not decided "
             "yet): the plan and the pages."))
def sample(batch: str = typer.Argument(..., help=_("the batch folder that was run (or its name)")),
           reviewer: str = REVIEWER,
           seed: Optional[int] = typer.Option(None, "--seed", min=0, help=_("the random seed (the same seed draws "
                                                                           "the same pages) [default: a new one]"))) -> None:
    from digitize.core.profiles import load_libraries
    from digitize.core.settings import get_settings
    from digitize.review import sampling

    session = _session()
    drawn = sampling.draw_sample(session, batch, reviewer, load_libraries(get_settings().profiles), seed)
    console.print(sampling.sample_plan(drawn).describe(), markup=False)
    console.print(_("seed {seed}, drawn by {who} on {when}; {count} pages to inspect:", seed=drawn.seed,
                    who=drawn.drawn_by, when=f"{drawn.drawn:%Y-%m-%d %H:%M} UTC", count=len(drawn.pages)), markup=False)
    for library, item_id, page in drawn.pages:
        console.print(f"{library}/{item_id} {page}", markup=False)


@acceptance_app.command("finding")
@described(_("Record what you found on a sampled page: --defect or --no-defect, with a note."))
def finding(batch: str = typer.Argument(..., help=_("the batch folder that was run (or its name)")),
            item: str = typer.Argument(..., help=_("the item id (LIBRARY/ITEM where two libraries share it)")),
            page: int = typer.Argument(..., min=1, help=_("the page number")),
            defect: bool = typer.Option(..., "--defect/--no-defect", help=_("whether the page is defective")),
            note: str = typer.Option("", "--note", help=_("what is wrong (or checked)")),
            reviewer: str = REVIEWER) -> None:
    from digitize.review import sampling

    sampling.record_finding(_session(), batch, item, page, defect, note, reviewer)
    console.print(_("{item} page {page}: defective", item=item, page=page) if defect else
                  _("{item} page {page}: no defect", item=item, page=page), markup=False)


@acceptance_app.command("decide")
@described(_("Accept or reject the batch by its sample's findings (the items in review are accepted, or returned), "
             "and write the acceptance report (PDF/A and CSV)."))
def decide(batch: str = typer.Argument(..., help=_("the batch folder that was run (or its name)")),
           reviewer: str = REVIEWER,
           out: Path = typer.Option(Path("."), "--out", help=_("folder for the report's PDF/A and CSV files"))) -> None:
    from digitize.cli.connect import ledger_and_store
    from digitize.review import acceptance_report, sampling

    session, store = ledger_and_store()
    made = sampling.decide_batch(session, store, batch, reviewer)
    console.print(_("{reason}: {count} items accepted", reason=made.reason, count=len(made.decided)) if made.accepted
                  else _("{reason}: {count} items returned", reason=made.reason, count=len(made.decided)), markup=False)
    if made.left:
        console.print(_("left as they were (no longer in review): {items}", items=", ".join(made.left)), markup=False)
    pdf, csv = acceptance_report.write_acceptance_report(acceptance_report.acceptance_facts(session, made.sample), out)
    console.print(_("acceptance report: {pdf} and {csv}", pdf=pdf, csv=csv), markup=False)


@acceptance_app.command("report")
@described(_("Write the acceptance report (PDF/A and CSV) of the batch's latest sample again."))
def report(batch: str = typer.Argument(..., help=_("the batch folder that was run (or its name)")),
           out: Path = typer.Option(Path("."), "--out", help=_("folder for the report's PDF/A and CSV files"))) -> None:
    from digitize.core.errors import BadInput
    from digitize.core.i18n import N_
    from digitize.review import acceptance_report, sampling

    session = _session()
    latest = sampling.latest_sample(session, sampling.find_batch(session, batch))
    if latest is None:
        raise BadInput(N_("no sample has been drawn from this batch"), batch, N_("draw one first: digitize acceptance sample"))
    pdf, csv = acceptance_report.write_acceptance_report(acceptance_report.acceptance_facts(session, latest), out)
    console.print(_("acceptance report: {pdf} and {csv}", pdf=pdf, csv=csv), markup=False)
