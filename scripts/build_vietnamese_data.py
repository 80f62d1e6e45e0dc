#!/usr/bin/env python3
"""Build the syllable frequencies the diacritic corrector uses (src/digitize/data/vietnamese/) from
the project's own texts in scripts/corpus/ (licences in src/digitize/data/vietnamese/SOURCES.md).

Only valid syllables are counted (digitize.core.vietnamese.is_syllable); a bigram is two syllables with
nothing but a space between them. Usage: .venv/bin/python scripts/build_vietnamese_data.py

Never add the texts the benchmark renders its pages from (bench/ocr_quality.py): the figures would
then measure memorisation.
"""
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from digitize.review.retrain import count  # noqa: E402  (the rules retraining uses too)

SOURCES = ["ke-hoach-hai-duong.txt", "truyen-kieu-1866.txt"]
OUT = ROOT / "src" / "digitize" / "data" / "vietnamese"


def main() -> None:
    unigrams, bigrams = count(unicodedata.normalize("NFC", (ROOT / "scripts" / "corpus" / name).read_text(
        encoding="utf-8")) for name in SOURCES)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "syllables.tsv").write_text("".join(f"{w}\t{c}\n" for w, c in sorted(unigrams.items())), encoding="utf-8")
    (OUT / "bigrams.tsv").write_text("".join(f"{a} {b}\t{c}\n" for (a, b), c in sorted(bigrams.items())),
                                     encoding="utf-8")
    print(f"{len(unigrams)} syllables ({sum(unigrams.values())} seen), {len(bigrams)} bigrams -> {OUT}")


if __name__ == "__main__":
    main()
