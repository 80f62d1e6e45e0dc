"""The site's static files (``digitize/data/site``: its stylesheet, its scripts, the vendored
Mirador): their media types, their versioned names (a content hash in the name, so that a page
names the exact bytes it was made with and a browser may keep them for a year) and their gzip
encoding, made once per process."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from importlib.resources import files as package_files
from pathlib import Path

SITE = Path(str(package_files("digitize") / "data" / "site"))
FILES = {"site.css": "text/css; charset=utf-8", "viewer.js": "text/javascript; charset=utf-8",
         "viewer-words.js": "text/javascript; charset=utf-8",
         "mirador/mirador.min.js": "text/javascript; charset=utf-8",
         "editor.js": "text/javascript; charset=utf-8", "editor.css": "text/css; charset=utf-8",
         "transcription.js": "text/javascript; charset=utf-8"}
"""The files served under /static/, by their plain names, with their media types."""
TAG_LENGTH = 12


@cache
def content(name: str) -> bytes:
    return (SITE / name).read_bytes()


@cache
def tag(name: str) -> str:
    """The hash of ``name``'s bytes (its ETag and the version in its name)."""
    return hashlib.sha256(content(name)).hexdigest()[:32]


def versioned(name: str) -> str:
    """``name`` with its content's version before the suffix: ``mirador/mirador.min.<hash>.js``."""
    if name not in FILES:
        raise ValueError(f"not a static file of the site: {name!r}")
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{tag(name)[:TAG_LENGTH]}{dot}{suffix}"


def url(base: str, name: str) -> str:
    """The versioned URL of the static file ``name`` under the site's ``base`` URL."""
    return f"{base}/static/{versioned(name)}"


@cache
def _by_version() -> dict[str, str]:
    return {versioned(name): name for name in FILES}


def resolve(requested: str) -> tuple[str, bool] | None:
    """(the static file's plain name, whether ``requested`` is its current versioned name), or
    None when ``requested`` names no static file (nor an outdated version of one)."""
    if requested in FILES:
        return requested, False
    name = _by_version().get(requested)
    return (name, True) if name is not None else None


@cache
def gzipped(name: str) -> bytes:
    """``name``'s bytes gzip-encoded at the highest level (once: the same bytes for every answer)."""
    return gzip.compress(content(name), compresslevel=9, mtime=0)
