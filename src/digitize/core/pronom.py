"""The file formats a material profile may accept, as families of PRONOM identifiers (PUIDs), and
the family each file extension of a page file promises. The identification itself is
digitize.capture.formats' job; this table is here so that a profile naming a format is checked
when the profile is read."""

from __future__ import annotations

import re

PUID = re.compile(r"^(x-)?fmt/\d+$")

FAMILIES: dict[str, tuple[str, ...]] = {
    # generic TIFF, TIFF 3-6, TIFF/EP, GeoTIFF, uncompressed Exif 2.0-2.2 (a TIFF inside)
    "TIFF": ("fmt/353", "fmt/7", "fmt/8", "fmt/9", "fmt/10", "fmt/154", "fmt/155", "x-fmt/399", "x-fmt/388",
             "x-fmt/387"),
    # raw JPEG stream, JFIF 1.00-1.02, compressed Exif 2.0-2.3
    "JPEG": ("fmt/41", "fmt/42", "fmt/43", "fmt/44", "x-fmt/398", "x-fmt/390", "x-fmt/391", "fmt/645", "fmt/1507"),
    "PNG": ("fmt/11", "fmt/12", "fmt/13"),
    "JPEG 2000": ("x-fmt/392", "fmt/151"),  # JP2 (part 1), JPX (part 2)
    # PDF 1.0-1.7 and 2.0, PDF/A-1a/1b, 2a/2b/2u, 3a/3b/3u, PDF/X, PDF/E
    "PDF": ("fmt/14", "fmt/15", "fmt/16", "fmt/17", "fmt/18", "fmt/19", "fmt/20", "fmt/276", "fmt/1129",
            "fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479", "fmt/480", "fmt/481",
            "fmt/144", "fmt/145", "fmt/146", "fmt/147", "fmt/148", "fmt/157", "fmt/158", "fmt/488", "fmt/489",
            "fmt/490", "fmt/491", "fmt/492", "fmt/493"),
}
ACCEPTED = ("TIFF", "JPEG", "PNG", "JPEG 2000", "PDF")  # a profile that names none accepts these

EXTENSIONS = {".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG",
              ".jp2": "JPEG 2000", ".j2k": "JPEG 2000", ".jpf": "JPEG 2000", ".jpx": "JPEG 2000", ".pdf": "PDF"}


def family(puid: str) -> str | None:
    """The family a PUID belongs to (TIFF, JPEG, ...), None for one of no family here."""
    return next((name for name, members in FAMILIES.items() if puid in members), None)


def puids(formats: list[str]) -> set[str]:
    """The PUIDs a list of family names and PUIDs stands for."""
    found: set[str] = set()
    for name in formats:
        found |= set(FAMILIES.get(name, (name,)))
    return found


def check_names(formats: list[str]) -> list[str]:
    """``formats`` if each is a family name or a PUID; ValueError naming the first that is neither."""
    for name in formats:
        if name not in FAMILIES and not PUID.match(name):
            raise ValueError(f"{name!r} is neither a format family ({', '.join(FAMILIES)}) nor a PRONOM "
                             "identifier such as fmt/353")
    return formats
