"""The quota ledger: `digitize holdings import` (the registers, the quota's denominator), `digitize
quota` (progress against the province plans) and `digitize report` (the periodic report)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from enum import Enum

import typer
from rich.markup import escape

from digitize.cli.language import _, described
from digitize.cli.output import Column, console, plain_output, print_table
from digitize.core.errors import BadInput
from digitize.core.i18n import N_
from digitize.core.i18n import DEFAULT_LANGUAGE, LANGUAGES

Language = Enum("Language", {code: code for code in LANGUAGES}, type=str)  # those with a catalogue

holdings_app = typer.Typer(help=_("The holdings register: what each library collected and manages."))


@holdings_app.command("import")
@described(_("Load (or update) a library's holdings register: the quota's denominator."))
def holdings_import(file: Path = typer.Argument(..., help=_("CSV, MARC21 (.mrc) or MARCXML export")),
                    library: str = typer.Option(..., "--library", help=_("library code")),
                    name: Optional[str] = typer.Option(None, "--name", help=_("library name (first import)")),
                    province: Optional[str] = typer.Option(None, "--province",
                                                           help=_("province code, e.g. hai-duong")),
                    tier: Optional[str] = typer.Option(None, "--tier", help=_("provincial, district, specialized, "
                                                                            "school, armed_forces or public"))) -> None:
    from digitize.ledger import holdings, database as ledger
    from digitize.core.settings import get_settings

    settings = get_settings()
    if not file.is_file():
        raise BadInput(N_("file not found"), str(file), N_("give the path of the catalogue export"))
    session = ledger.open_ledger(settings.ledger_url)
    from digitize.core.profiles import load_libraries

    found = holdings.ensure_library(session, library, name, province, tier,
                                    load_libraries(settings.profiles).get(library))
    report = holdings.import_file(session, file, found, settings.profiles)
    rejected = _("rejected")
    for label, reason in report.rejected:
        console.print(f"[yellow]{escape(rejected)}[/] {escape(label)}: {escape(str(reason))}")
    console.print(_("{library}: {added} added, {updated} updated, {unchanged} unchanged, {rejected} rejected",
                    library=library, added=report.added, updated=report.updated, unchanged=report.unchanged,
                    rejected=len(report.rejected)), markup=False)


MET, BEHIND = _("met"), _("behind")
PROGRESS_COLUMNS = [Column(_("province")), Column(_("library")), Column(_("category")),
                    Column(_("holdings"), right=True), Column(_("digitized"), right=True),
                    Column(_("awaiting review"), right=True), Column(_("accepted"), right=True),
                    Column(_("pages"), right=True), Column("%", right=True), Column(_("target"), right=True),
                    Column(_("met"), colours={MET: "green", BEHIND: "red"}), Column(_("pace/month"), right=True),
                    Column(_("target reached"), "words")]
ROLLUP_COLUMNS = [Column(_("province")), Column(_("tier")), Column(_("category")), Column(_("libraries"), right=True),
                  Column(_("holdings"), right=True), Column(_("accepted"), right=True), Column("%", right=True),
                  Column(_("target"), right=True)]


def _progress_row(r) -> list[str]:
    met = "-" if r.met is None else (MET if r.met else BEHIND)
    reached = str(r.projected) if r.projected else ("-" if r.target is None else _("not at this pace"))
    return [r.province, r.library, r.category, str(r.holdings), str(r.stored), str(r.awaiting), str(r.digitized),
            str(r.pages), f"{r.percent:.1f}",
            "-" if r.target is None else f"{r.target}", met, f"{r.pace:.1f}", reached]


@described(_("Progress per library and category against the province plan: items digitized, awaiting review "
             "and accepted; only accepted items count toward the target (one line per row, tab-separated, when "
             "the output is not a terminal)."))
def quota(province: Optional[str] = typer.Option(None, "--province", help=_("one province's libraries (its code)")),
          library: Optional[str] = typer.Option(None, "--library", help=_("one library (its code)"))) -> None:
    from datetime import date

    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    quotas.require_known(session, province, library)
    rows = quotas.progress(session, load_plans(settings.profiles), date.today(), province, library)
    plain = plain_output()
    print_table(_("Quota progress on {date}", date=f"{date.today():%d/%m/%Y}"), PROGRESS_COLUMNS, [_progress_row(r) for r in rows],
                plain)
    print_table(_("Per province and library tier"), ROLLUP_COLUMNS,
                [[r.province, r.tier, r.category, str(r.libraries), str(r.holdings), str(r.digitized),
                  f"{r.percent:.1f}", "-" if r.target is None else str(r.target)] for r in quotas.rollup(rows)],
                plain)


@described(_("The periodic report to the Department of Culture, as CSV and XLSX (Vietnamese by default)."))
def report(period: str = typer.Option(..., "--period", help=_("2026-H1, 2026-H2 or 2026")),
           province: Optional[str] = typer.Option(None, "--province", help=_("one province's libraries (its code)")),
           library: Optional[str] = typer.Option(None, "--library", help=_("one library (its code)")),
           lang: Language = typer.Option(Language(DEFAULT_LANGUAGE), "--lang",
                                         help=_("the language of the headers and names")),
           out: Path = typer.Option(Path("."), "--out", help=_("folder for the CSV and XLSX files"))) -> None:
    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    made = quotas.period_report(session, load_plans(settings.profiles), period, province, library)
    paths = quotas.write_report(made, out, f"bao-cao-so-hoa-{library or province or 'all'}-{period}", lang.value)
    console.print(_("{rows} rows: {csv} and {xlsx}", rows=len(made.rows), csv=paths[0], xlsx=paths[1]), markup=False)
