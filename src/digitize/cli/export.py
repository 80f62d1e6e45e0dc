"""Packages and records for others: `digitize export` (BagIt), `digitize dataset` (DCAT) and
`digitize union-catalogue` (MARCXML)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from digitize.cli.connect import ledger_and_store
from digitize.cli.language import _, described
from digitize.cli.output import console


@described(_("BagIt packages (one per item) with the PDF/A, METS, DC, ALTO, text and masters."))
def export(items: Optional[list[str]] = typer.Argument(None, help=_("LIBRARY/ITEM_ID ... [default: every stored item]")),
           to: str = typer.Option(..., "--to", help=_("folder, file:///path or s3://bucket/prefix")),
           masters: bool = typer.Option(True, "--masters/--no-masters", help=_("put the masters in the bags")),
           public: bool = typer.Option(False, "--public", help=_("a public package: restricted and secret items "
                                                               "are left out"))) -> None:
    from digitize.preservation import export as exporting
    from digitize.core.settings import get_settings

    settings = get_settings()
    links = settings.links() if public or settings.public_url else None
    session, store = ledger_and_store()
    report = exporting.export_bags(session, store, items or None, to, masters=masters, public=public, links=links)
    for written in report.written:
        console.print(f"[green]bag[/] {written}")
    for item, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {item}: {reason}")
    console.print(f"{len(report.written)} bags written, {len(report.skipped)} skipped")


@described(_("DCAT (JSON-LD) description of a library's digitized collection, for an open-data portal; its links "
             "(OAI-PMH, the collection page, the IIIF collection) are under DIGITIZE_PUBLIC_URL."))
def dataset(library: str = typer.Argument(..., help=_("library code")),
            out: Optional[Path] = typer.Option(None, "--out", help=_("file to write [default: print]"))) -> None:
    import json
    from datetime import date

    from digitize.access.dcat import dcat_record
    from digitize.core.settings import get_settings

    links = get_settings().links()
    session, _store = ledger_and_store()
    record = dcat_record(session, library, links, date.today())
    text = json.dumps(record, ensure_ascii=False, indent=1)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"dataset record written to {out}")
    else:
        print(text)


@described(_("MARCXML of the library's public digitized items, each with 856 links to its item page and its PDF/A "
             "under DIGITIZE_PUBLIC_URL."))
def union_catalogue(library: str = typer.Argument(..., help=_("library code")),
                    out: Path = typer.Option(..., "--out", help=_("MARCXML file to write"))) -> None:
    from digitize.preservation import export as exporting
    from digitize.core.settings import get_settings

    links = get_settings().links()
    session, store = ledger_and_store()
    out.write_bytes(exporting.union_catalogue_marcxml(session, store, library, links))
    console.print(f"MARCXML written to {out}")
