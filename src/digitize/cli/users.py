"""`digitize user add|remove|list`: the staff accounts of the web app's staff area."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from digitize.cli.output import console, table

user_app = typer.Typer(help="Staff accounts of the web app's staff area (the dashboard; restricted items).")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password (12 characters or more)", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(name: str = typer.Argument(..., help="sign-in name: letters, digits, . _ - @"),
             password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from the "
                                                 "first line of standard input instead of asking")) -> None:
    """Add a staff account (the password is asked twice, or read from standard input)."""
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    session = ledger.open_ledger(get_settings().ledger_url)
    accounts.check_name(name)
    accounts.add_user(session, name, _password(password_stdin))
    console.print(f"staff account {name} added")


@user_app.command("remove")
def user_remove(name: str = typer.Argument(...)) -> None:
    """Remove a staff account; its sessions end at once."""
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    accounts.remove_user(ledger.open_ledger(get_settings().ledger_url), name)
    console.print(f"staff account {name} removed")


@user_app.command("list")
def user_list() -> None:
    """The staff accounts, with their last sign-in and whether they are locked."""
    from datetime import datetime, timezone

    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    now = datetime.now(timezone.utc)
    shown = table("staff accounts", "name", "created", "last sign-in", "locked")
    for user in accounts.list_users(ledger.open_ledger(get_settings().ledger_url)):
        shown.add_row(escape(user.name), f"{user.created:%Y-%m-%d %H:%M}",
                      f"{user.last_sign_in:%Y-%m-%d %H:%M}" if user.last_sign_in else "-",
                      "locked" if accounts.is_locked(user, now) else "")
    console.print(shown)
