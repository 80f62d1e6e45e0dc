"""The ledger and the store, opened from the settings, for the commands that read both."""

from __future__ import annotations


def ledger_and_store():
    """(ledger session, store): DIGITIZE_LEDGER and DIGITIZE_STORE."""
    from digitize.ledger import database as ledger
    from digitize.store import storage
    from digitize.core.settings import get_settings

    settings = get_settings()
    return ledger.open_ledger(settings.ledger_url), storage.open_store(settings.store_url, settings.multipart_mb << 20)
