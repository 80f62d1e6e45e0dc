"""Backup and recovery of the quota ledger: `digitize backup` (a snapshot into the store, or --list)
and `digitize restore` (the ledger rebuilt from a snapshot)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from digitize.cli.language import _, described
from digitize.cli.output import console, table


@described(_("Snapshot the quota ledger and the profiles into the store (`_backups/ledger/<UTC time>/`)."))
def backup(to: Optional[str] = typer.Option(None, "--to", help=_("store for the snapshot: folder, file:///path or "
                                                               "s3://bucket/prefix [default: DIGITIZE_STORE]")),
           list_: bool = typer.Option(False, "--list", help=_("list the snapshots in the store instead"))) -> None:
    from digitize.preservation import backup as backups
    from digitize.store import storage
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    store = storage.open_store(to or settings.store_url, settings.multipart_mb << 20)
    if list_:
        found = backups.list_backups(store)
    else:
        info = backups.backup(settings.ledger_url, settings.profiles, store)
    if not list_:
        console.print(f"ledger snapshot {info.snapshot} ({info.engine}, migration {info.revision}) at {info.url}: "
                      f"{info.size} bytes, SHA-256 {info.sha256}; profiles in {backups.PROFILES} beside it")
        return
    if not found:
        console.print(f"no ledger snapshots in {shown_url(to or settings.store_url)}")
        return
    snapshots = table(f"Ledger snapshots in {shown_url(to or settings.store_url)}", "snapshot", "created (UTC)",
                      "engine", "migration", "ledger bytes", no_wrap=True)
    for info in found:
        snapshots.add_row(info.snapshot, f"{info.created:%Y-%m-%d %H:%M:%S}", info.engine, info.revision,
                          str(info.size))
    console.print(snapshots)


@described(_("Rebuild the ledger (DIGITIZE_LEDGER, which must be empty) from a snapshot, then migrate it."))
def restore(snapshot: str = typer.Argument("latest", help=_("the snapshot's UTC time (digitize backup --list) "
                                                          "or latest")),
            from_: Optional[str] = typer.Option(None, "--from", help=_("store holding the snapshots "
                                                                     "[default: DIGITIZE_STORE]")),
            profiles: Optional[Path] = typer.Option(None, "--profiles", help=_("also unpack the snapshot's profiles "
                                                                              "into this folder"))) -> None:
    from digitize.preservation import backup as backups
    from digitize.store import storage
    from digitize.core.settings import get_settings, shown_url

    settings = get_settings()
    store = storage.open_store(from_ or settings.store_url, settings.multipart_mb << 20)
    info = backups.restore(snapshot, settings.ledger_url, store, profiles)
    console.print(f"ledger snapshot {info.snapshot} ({info.engine}, migration {info.revision}, made "
                  f"{info.created:%Y-%m-%d %H:%M} UTC) restored into {shown_url(settings.ledger_url)} "
                  "and migrated to the newest schema" + (f"; profiles unpacked into {profiles}" if profiles else ""))
