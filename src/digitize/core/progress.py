"""A run's progress for whoever is watching (the CLI's progress line); silent otherwise.

The events, in the order a run sends them:
  "folders"   count: item folders found; their intake begins
  "taken-in"  one item folder taken in (name: the folder)
  "total"     count: pages to do (intake is over)
  "item"      name: the item whose pages are handed to the workers now
  "page"      count: pages finished (or found finished by an earlier run)"""

from __future__ import annotations

from typing import Callable

Listener = Callable[[str, int, str], None]
_listeners: list[Listener] = []


def listen(callback: Listener) -> None:
    """callback(event, count, name), for each event above."""
    _listeners.append(callback)


def forget(callback: Listener) -> None:
    if callback in _listeners:
        _listeners.remove(callback)


def report(event: str, count: int = 1, name: str = "") -> None:
    for callback in list(_listeners):
        callback(event, count, name)
