"""Keeping what is stored: fixity audits and repair, BagIt exports, ledger backups."""
