"""OCR quality measures: character and word error rate against ground truth (NFC, whitespace
folded), as used by the tests and the benchmark."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def cer(hypothesis: str, reference: str) -> float:
    hyp, ref = normalize(hypothesis), normalize(reference)
    return Levenshtein.distance(hyp, ref) / max(1, len(ref))


def wer(hypothesis: str, reference: str) -> float:
    hyp, ref = normalize(hypothesis).split(), normalize(reference).split()
    return Levenshtein.distance(hyp, ref) / max(1, len(ref))
