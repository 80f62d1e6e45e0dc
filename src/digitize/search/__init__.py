"""The full-text index of the collection and keeping it up to date."""
