"""The quota ledger: `digitize holdings import` (the registers, the quota's denominator), `digitize
quota` (progress against the province plans) and `digitize report` (the periodic report)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from enum import Enum

import typer
from rich.table import Table

from digitize.cli.output import console, table
from digitize.core.errors import BadInput
from digitize.core.words import DEFAULT_LANGUAGE, LANGUAGES

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


def _progress_table(rows, title: str) -> Table:
    shown = table(title, "province", "library", "category", "holdings", "digitized", "pages", "%", "target", "met",
                  "pace/month", "target reached")
    for r in rows:
        met = "-" if r.met is None else ("[green]met" if r.met else "[red]behind")
        reached = str(r.projected) if r.projected else ("-" if r.target is None else "not at this pace")
        shown.add_row(r.province, r.library, r.category, str(r.holdings), str(r.digitized), str(r.pages),
                      f"{r.percent:.1f}", "-" if r.target is None else f"{r.target}", met, f"{r.pace:.1f}", reached)
    return shown


def quota(province: Optional[str] = typer.Option(None, "--province"),
          library: Optional[str] = typer.Option(None, "--library")) -> None:
    """Progress per library and category against the province plan."""
    from datetime import date

    from digitize.ledger import database as ledger, quota as quotas
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings

    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    quotas.require_known(session, province, library)
    rows = quotas.progress(session, load_plans(settings.profiles), date.today(), province, library)
    console.print(_progress_table(rows, f"Quota progress on {date.today():%d/%m/%Y}"))
    totals = table("Per province and library tier", "province", "tier", "category", "libraries", "holdings",
                   "digitized", "%", "target")
    for r in quotas.rollup(rows):
        totals.add_row(r.province, r.tier, r.category, str(r.libraries), str(r.holdings), str(r.digitized),
                       f"{r.percent:.1f}", "-" if r.target is None else str(r.target))
    console.print(totals)


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
