"""`python -m digitize.cli ARGS`: the digitize command."""

from digitize.cli.app import app

app()
