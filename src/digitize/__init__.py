"""Digitization pipeline for Vietnamese libraries: scanner batches to searchable PDF/A."""

__version__ = "0.1.0"
SOFTWARE = "digitize"
