"""The quota ledger: `digitize holdings import` (the registers, the quota's denominator), `digitize
quota` (progress against the province plans) and `digitize report` (the periodic report)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from enum import Enum

import typer

from digitize.cli.output import Column, console, plain_output, print_table
from digitize.core.errors import BadInput
from digitize.core.i18n import DEFAULT_LANGUAGE, LANGUAGES

Language = Enum("Language", {code: code for code in LANGUAGES}, type=str)  # those with a catalogue

holdings_app = typer.Typer(help="The holdings register: what each library collected and manages.")


@holdings_app.command("import")
def holdings_import(file: Path = typer.Argument(..., help="CSV, MARC21 (.mrc) or MARCXML export"),
                    library: str = typer.Option(..., "--library", help="library code"),
                    name: Optional[str] = typer.Option(None, "--name", help="library name (first import)"),
                    province: Optional[str] = typer.Option(None, "--province", help="province code, e.g. hai-duong"),
                    tier: Optional[str] = typer.Option(None, "--tier", help="provincial, district, specialized, "
                                                                          "school, armed_forces or public")) -> None:
    """Load (or update) a library's holdings register: the quota's denominator."""
    from digitize.ledger import holdings, database as ledger
    from digitize.core.settings import get_settings

    settings = get_settings()
    if not file.is_file():
        raise BadInput("file not found", str(file), "give the path of the catalogue export")
    session = ledger.open_ledger(settings.ledger_url)
    from digitize.core.profiles import load_libraries

    found = holdings.ensure_library(session, library, name, province, tier,
                                    load_libraries(settings.profiles).get(library))
    report = holdings.import_file(session, file, found, settings.profiles)
    for label, reason in report.rejected:
        console.print(f"[yellow]rejected[/] {label}: {reason}")
    console.print(f"{library}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
                  f"{len(report.rejected)} rejected")


PROGRESS_COLUMNS = [Column("province"), Column("library"), Column("category"), Column("holdings", right=True),
                    Column("digitized", right=True), Column("pages", right=True), Column("%", right=True),
                    Column("target", right=True), Column("met", colours={"met": "green", "behind": "red"}),
                    Column("pace/month", right=True), Column("target reached", "words")]
ROLLUP_COLUMNS = [Column("province"), Column("tier"), Column("category"), Column("libraries", right=True),
                  Column("holdings", right=True), Column("digitized", right=True), Column("%", right=True),
                  Column("target", right=True)]


def _progress_row(r) -> list[str]:
    met = "-" if r.met is None else ("met" if r.met else "behind")
    reached = str(r.projected) if r.projected else ("-" if r.target is None else "not at this pace")
    return [r.province, r.library, r.category, str(r.holdings), str(r.digitized), str(r.pages), f"{r.percent:.1f}",
            "-" if r.target is None else f"{r.target}", met, f"{r.pace:.1f}", reached]


def quota(province: Optional[str] = typer.Option(None, "--province"),
          library: Optional[str] = typer.Option(None, "--library")) -> None:
    """Progress per library and category against the province plan (one line per row, tab-separated,
    when the output is not a terminal)."""
    from datetime import date

    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    quotas.require_known(session, province, library)
    rows = quotas.progress(session, load_plans(settings.profiles), date.today(), province, library)
    plain = plain_output()
    print_table(f"Quota progress on {date.today():%d/%m/%Y}", PROGRESS_COLUMNS, [_progress_row(r) for r in rows],
                plain)
    print_table("Per province and library tier", ROLLUP_COLUMNS,
                [[r.province, r.tier, r.category, str(r.libraries), str(r.holdings), str(r.digitized),
                  f"{r.percent:.1f}", "-" if r.target is None else str(r.target)] for r in quotas.rollup(rows)],
                plain)


def report(period: str = typer.Option(..., "--period", help="2026-H1, 2026-H2 or 2026"),
           province: Optional[str] = typer.Option(None, "--province", help="one province's libraries (its code)"),
           library: Optional[str] = typer.Option(None, "--library", help="one library (its code)"),
           lang: Language = typer.Option(Language(DEFAULT_LANGUAGE), "--lang",
                                         help="the language of the headers and names"),
           out: Path = typer.Option(Path("."), "--out", help="folder for the CSV and XLSX files")) -> None:
    """The periodic report to the Department of Culture, as CSV and XLSX (Vietnamese by default)."""
    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    made = quotas.period_report(session, load_plans(settings.profiles), period, province, library)
    paths = quotas.write_report(made, out, f"bao-cao-so-hoa-{library or province or 'all'}-{period}", lang.value)
    console.print(f"{len(made.rows)} rows: {paths[0]} and {paths[1]}")
