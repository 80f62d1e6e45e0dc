"""`digitize user add|remove|roles|list`: the staff accounts of the web app's staff area, and
their roles (administrator, coordinator, reviewer)."""

from __future__ import annotations

import sys
from typing import List

import typer
from rich.markup import escape

from digitize.cli.language import _, described
from digitize.cli.output import console, table

user_app = typer.Typer(help=_("Staff accounts of the web app's staff area (the dashboard; restricted items)."))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt(_("Password (12 characters or more)"), hide_input=True, confirmation_prompt=True)


@user_app.command("add")
@described(_("Add a staff account (the password is asked twice, or read from standard input)."))
def user_add(name: str = typer.Argument(..., help=_("sign-in name: letters, digits, . _ - @")),
             password_stdin: bool = typer.Option(False, "--password-stdin", help=_("read the password from the "
                                                 "first line of standard input instead of asking")),
             role: List[str] = typer.Option([], "--role", help=_("administrator, coordinator or reviewer; "
                                                                 "repeat for more [default: coordinator]"))) -> None:
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    session = ledger.open_ledger(get_settings().ledger_url)
    accounts.check_name(name)
    roles = accounts.check_roles(role or ["coordinator"])
    accounts.add_user(session, name, _password(password_stdin), roles=roles)
    console.print(_("staff account {name} added ({roles})", name=name, roles=", ".join(roles)), markup=False)


@user_app.command("roles")
@described(_("Give a staff account roles or take them away; its next request has them."))
def user_roles(name: str = typer.Argument(..., help=_("sign-in name")),
               add: List[str] = typer.Option([], "--add", help=_("a role to give (repeat for more)")),
               remove: List[str] = typer.Option([], "--remove", help=_("a role to take away (repeat for more)"))
               ) -> None:
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    roles = accounts.change_roles(ledger.open_ledger(get_settings().ledger_url), name, add, remove)
    console.print(_("{name}: {roles}", name=name, roles=", ".join(r for r in accounts.ROLES if r in roles) or "-"),
                  markup=False)


@user_app.command("remove")
@described(_("Remove a staff account; its sessions end at once."))
def user_remove(name: str = typer.Argument(..., help=_("sign-in name"))) -> None:
    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    accounts.remove_user(ledger.open_ledger(get_settings().ledger_url), name)
    console.print(_("staff account {name} removed", name=name), markup=False)


@user_app.command("list")
@described(_("The staff accounts, with their roles, their last sign-in and whether they are locked."))
def user_list() -> None:
    from datetime import datetime, timezone

    from digitize.ledger import accounts, database as ledger
    from digitize.core.settings import get_settings

    now = datetime.now(timezone.utc)
    shown = table(_("staff accounts"), _("name"), _("roles"), _("created"), _("last sign-in"), _("locked"))
    session = ledger.open_ledger(get_settings().ledger_url)
    for user in accounts.list_users(session):
        shown.add_row(escape(user.name), ", ".join(r for r in accounts.ROLES if r in accounts.roles_of(user)) or "-",
                      f"{user.created:%Y-%m-%d %H:%M}",
                      f"{user.last_sign_in:%Y-%m-%d %H:%M}" if user.last_sign_in else "-",
                      _("locked") if accounts.is_locked(session, user, now) else "")
    console.print(shown)
