"""The digitize command: the root Typer app, the one error handler, and the commands of the modules
beside this one, registered here in the order `digitize --help` lists them. Every command's errors
go through the handler, which prints the message and exits with the error's code
(digitize.core.errors.ExitCode).

Commands: run.py (run, serve, unlock), quota.py (holdings import, quota, report), web.py (web),
users.py (user add|remove|roles|list), review.py (review list|accept|return), export.py (export, dataset,
union-catalogue), fixity.py (audit, repair), search.py (index, withdraw), backup.py (backup, restore),
acceptance.py (acceptance sample|finding|decide|report), groundtruth.py (groundtruth export, vietnamese
retrain); output.py prints for them all."""

from __future__ import annotations

import os

# The flows' logs reach the Prefect server at INFO (`digitize serve`'s runs pass this environment on);
# `digitize run` keeps them off its own console (cli/run.py).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import typer  # noqa: E402
from typer._click.exceptions import UsageError  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from digitize.cli import acceptance, backup, export, fixity, groundtruth, quota, review, run, search, users, web  # noqa: E402
from digitize.cli.language import _, said  # noqa: E402
from digitize.cli.output import error  # noqa: E402
from digitize.core.errors import DigitizeError, ExitCode  # noqa: E402


class _Commands(TyperGroup):
    """Every command's DigitizeError becomes its message on stderr and the error's exit code; a
    wrong command line (a missing argument, an unknown command or option, a value out of range, no
    command at all) gets Typer's usage message and the usual code for it (2, ExitCode.usage)."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:  # an option unknown to digitize itself, or no command
            raise _usage(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as exc:  # a command's own line: an unknown command, a missing argument, a bad value
            raise _usage(exc) from None
        except DigitizeError as exc:
            error(said(exc.words))
            raise typer.Exit(int(exc.exit_code)) from None
        except OSError as exc:  # the disk or the system, not a bug: its own words, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            error(where + (exc.strerror or str(exc)))
            raise typer.Exit(int(ExitCode.cannot_write)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):  # Typer shows these itself
            raise
        except Exception as exc:
            if os.environ.get("DIGITIZE_DEBUG"):
                raise
            error(_("unexpected failure ({failure}); this is a bug: run again with DIGITIZE_DEBUG=1 for the "
                    "details and report them", failure=f"{type(exc).__name__}: {str(exc)[:300]}"))
            raise typer.Exit(int(ExitCode.failed)) from None


def _usage(exc: UsageError) -> UsageError:
    """Typer 0.29 raises its own click exceptions (typer._click), not click's; Typer prints them as
    usage messages with their exit_code, which is made the README's code for a wrong command line
    (2, as every command-line tool answers one; the bare `digitize` too, whose usage is its help)."""
    exc.exit_code = int(ExitCode.usage)
    return exc


# Help texts are read as Markdown: paragraphs flow to the terminal's width, and "[default: ...]"
# stays as written (Rich markup would take it for a tag and drop it).
app = typer.Typer(cls=_Commands, help=_("Digitization pipeline for Vietnamese libraries."), no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode="markdown")


@app.callback()
def main() -> None:
    pass


# In the order of `digitize --help`, the groups last.
app.command()(run.run)
app.command()(quota.quota)
app.command()(quota.report)
app.command()(web.web)
app.command()(export.export)
app.command()(export.dataset)
app.command("union-catalogue")(export.union_catalogue)
app.command()(run.serve)
app.command()(fixity.audit)
app.command()(fixity.repair)
app.command()(search.index)
app.command()(search.withdraw)
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(run.unlock)
app.add_typer(quota.holdings_app, name="holdings")
app.add_typer(users.user_app, name="user")
app.add_typer(review.review_app, name="review")
app.add_typer(acceptance.acceptance_app, name="acceptance")
app.add_typer(groundtruth.groundtruth_app, name="groundtruth")
app.add_typer(groundtruth.vietnamese_app, name="vietnamese")


if __name__ == "__main__":
    app()
