"""The ledger: its database, holdings registers, province plans, quota progress, staff accounts, migrations."""
