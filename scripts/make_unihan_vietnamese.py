#!/usr/bin/env python3
"""Write src/digitize/data/vietnamese/unihan_vietnamese.tsv: the Vietnamese readings of CJK
characters from the Unicode Character Database's Unihan files (Debian's unicode-data ships them
in /usr/share/unicode), with what orders the candidates of a reading: the total stroke count
(kTotalStrokes) and the frequency class of the character in Big5 texts (kFrequency, 1 most common
to 5; empty when Unihan has none).

Columns: character, readings (kVietnamese, as Unihan lists them, NFC, space separated), strokes,
frequency. The first line is a comment naming the Unicode version the data is from.

Usage: make_unihan_vietnamese.py [UNIHAN_DIR]   (default /usr/share/unicode)
"""
import bz2
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "digitize" / "data" / "vietnamese" / "unihan_vietnamese.tsv"
FIELDS = {"Unihan_Readings.txt": ("kVietnamese",), "Unihan_IRGSources.txt": ("kTotalStrokes",),
          "Unihan_DictionaryLikeData.txt": ("kFrequency",)}
VERSION = re.compile(r"^# Unicode version: (\S+)")


def read(path: Path, wanted: tuple[str, ...], found: dict[str, dict[str, str]]) -> str:
    """Fill ``found[field][character]``; return the Unicode version the file names."""
    version = ""
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                version = (m.group(1) if (m := VERSION.match(line)) else version)
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[1] in wanted:
                found.setdefault(parts[1], {})[chr(int(parts[0][2:], 16))] = parts[2]
    return version


def main(folder: Path) -> None:
    found: dict[str, dict[str, str]] = {}
    versions = set()
    for name, wanted in FIELDS.items():
        path = next((p for p in (folder / name, folder / f"{name}.bz2") if p.exists()), None)
        if path is None:
            sys.exit(f"{folder / name}(.bz2) is missing: install Debian's unicode-data, or name the Unihan folder")
        versions.add(read(path, wanted, found))
    readings = found["kVietnamese"]
    strokes, frequency = found.get("kTotalStrokes", {}), found.get("kFrequency", {})
    rows = [f"# Unihan {'/'.join(sorted(v for v in versions if v))}: kVietnamese, kTotalStrokes (first value), "
            "kFrequency. Made by scripts/make_unihan_vietnamese.py"]
    for char in sorted(readings, key=ord):
        said = " ".join(unicodedata.normalize("NFC", r) for r in readings[char].split())
        rows.append("\t".join((char, said, strokes.get(char, "").split(" ")[0], frequency.get(char, ""))))
    OUT.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(rows) - 1} characters")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/share/unicode"))
