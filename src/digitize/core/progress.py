"""Page-by-page progress for whoever is watching (the CLI's progress bar); silent otherwise."""

from __future__ import annotations

from typing import Callable

_listeners: list[Callable[[str, int], None]] = []


def listen(callback: Callable[[str, int], None]) -> None:
    """callback(event, count): event 'total' announces pages to do, 'page' one page finished."""
    _listeners.append(callback)


def forget(callback: Callable[[str, int], None]) -> None:
    if callback in _listeners:
        _listeners.remove(callback)


def report(event: str, count: int = 1) -> None:
    for callback in list(_listeners):
        callback(event, count)
