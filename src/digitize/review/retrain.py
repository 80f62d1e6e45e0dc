"""What review teaches the diacritic correction: the syllable and bigram counts it decides with
(core.vietnamese) made again from the shipped counts plus the text of accepted items, written to
the installation's data folder ($DIGITIZE_DATA/vietnamese/, which the corrector prefers; the
package's data is never written), and measured before and after on accepted pages held back from
the counting.

The accepted text is the ground truth ``review.groundtruth`` exports: every line of an accepted
item (Hán-Nôm items: the lines a person transcribed, which hold no Quốc ngữ syllables and so add
nothing). It is counted by the rules of scripts/build_vietnamese_data.py, which made the shipped
counts: only valid syllables, a bigram is two syllables with only a space between them, and
punctuation and numbers end a run.

A page is held back by a seeded draw on its name (library/item/page), so the same pages are held
back on every retrain with the same seed, whatever else was accepted since. On the held-back
lines the word error rate (WER: word edits over the accepted words) is measured twice:
- ``ocr``: the correction of what the OCR read (each word's ALTERNATIVE, else its CONTENT), each
  letter offered with the marks the data knows for that syllable's letters (the store keeps no
  Tesseract confidences, so every offered spelling weighs the same and the data decides);
- ``stripped``: the accepted text with every diacritic taken off, restored by the same correction:
  how well the counts alone put the marks back."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from rapidfuzz.distance import Levenshtein
from sqlalchemy.orm import Session

from digitize.core import vietnamese
from digitize.core.errors import OutputUnwritable, StorageError, StorageUnavailable
from digitize.core.files import write_atomic
from digitize.core.vietnamese import Frequencies, Word, fold, is_syllable, letters_of, strip_marks
from digitize.review.groundtruth import AltoLine, accepted_items, accepted_pages
from digitize.store.storage import Store

SEED = 26
HOLD_BACK = 5  # one page in five is held back
MEASURES = ("ocr", "stripped")
REPORT = "retrain.json"


@dataclass
class RetrainReport:
    folder: str  # where the new data was written
    before_data: str  # which data was measured "before": the shipped or the installation's
    items: int = 0
    pages_trained: int = 0
    pages_held: int = 0
    lines_trained: int = 0
    lines_held: int = 0
    words_held: int = 0
    syllables: int = 0  # different syllables in the new data
    syllables_new: int = 0  # of them, not in the shipped data
    bigrams: int = 0
    seen: int = 0  # syllables counted in the accepted text
    before: dict[str, float | None] = field(default_factory=dict)  # WER by measure, 0-1
    after: dict[str, float | None] = field(default_factory=dict)
    secret_left_out: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    seed: int = SEED
    hold_back: int = HOLD_BACK
    made: str = ""


def held_back(key: str, seed: int = SEED, hold_back: int = HOLD_BACK) -> bool:
    """Whether the page named ``key`` (library/item/page) is held back: one in ``hold_back``, by a
    draw seeded with ``seed`` and the page's own name."""
    return hold_back > 0 and random.Random(f"{seed}:{key}").randrange(hold_back) == 0


def count(texts: Iterable[str]) -> tuple[Counter, Counter]:
    """Syllable and bigram counts of ``texts`` (lower case NFC): runs of syllables, punctuation and numbers
    ending a run (scripts/build_vietnamese_data.py counts the shipped data with it too)."""
    unigrams, bigrams = Counter(), Counter()
    for text in texts:
        for phrase in re.split(r"[^\w\s]+|\d+", unicodedata.normalize("NFC", text)):
            words = phrase.lower().split()
            for index, word in enumerate(words):
                if not is_syllable(word):
                    continue
                unigrams[word] += 1
                if index + 1 < len(words) and is_syllable(words[index + 1]):
                    bigrams[(word, words[index + 1])] += 1
    return unigrams, bigrams


def merged(base: Frequencies, unigrams: Counter, bigrams: Counter) -> Frequencies:
    """``base``'s counts with the accepted text's added."""
    return Frequencies(dict(Counter(base.unigrams) + unigrams), dict(Counter(base.bigrams) + bigrams))


def write(folder: Path, model: Frequencies) -> None:
    """The counts as the shipped files are laid out (sorted, tab separated), each written atomically."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "syllables.tsv", "".join(f"{w}\t{c}\n" for w, c in sorted(model.unigrams.items())))
        write_atomic(folder / "bigrams.tsv", "".join(f"{a} {b}\t{c}\n" for (a, b), c in sorted(model.bigrams.items())))
    except OSError as exc:
        raise OutputUnwritable(f"the syllable data cannot be written ({exc.strerror})", str(folder),
                               "make the data folder writable (DIGITIZE_DATA), then run the retrain again") from None


def spellings(model: Frequencies) -> dict[str, set[str]]:
    """The syllables the data knows, by their folded form (no marks)."""
    found: dict[str, set[str]] = {}
    for syllable in model.unigrams:
        found.setdefault(fold(syllable), set()).add(syllable)
    return found


def offered(token: str, known: dict[str, set[str]]) -> Word:
    """``token`` as the corrector takes a word: each letter with the alternatives the known
    syllables of the same letters have at its place (all weighing the same)."""
    split = letters_of(token)
    if split is None:
        return Word(token)
    lead, core, _ = split
    token = unicodedata.normalize("NFC", token)
    variants = sorted(s for s in known.get(fold(core), ()) if len(s) == len(core))  # sorted: the same result every run
    choices = []
    for index, char in enumerate(token):
        inside = index - len(lead)
        options = dict.fromkeys([char] + ([s[inside] for s in variants] if 0 <= inside < len(core) else []))
        choices.append([(option, 100.0) for option in options])
    return Word(token, choices)


def corrected(tokens: list[str], model: Frequencies, known: dict[str, set[str]]) -> list[str]:
    return vietnamese.correct_line([offered(token, known) for token in tokens], model) if tokens else []


def word_errors(lines: list[AltoLine], model: Frequencies) -> dict[str, tuple[int, int]]:
    """Word edits and accepted words of the correction with ``model`` on ``lines``, by measure."""
    known = spellings(model)
    found = {measure: [0, 0] for measure in MEASURES}
    for line in lines:
        truth = line.text.split()
        inputs = {"ocr": line.ocr_text.split(), "stripped": [strip_marks(w) for w in truth]}
        for measure in MEASURES:
            found[measure][0] += Levenshtein.distance(corrected(inputs[measure], model, known), truth)
            found[measure][1] += len(truth)
    return {measure: (edits, words) for measure, (edits, words) in found.items()}


def rates(errors: dict[str, tuple[int, int]]) -> dict[str, float | None]:
    return {measure: round(edits / words, 4) if words else None for measure, (edits, words) in errors.items()}


def retrain(session: Session, store: Store, folder: Path | None = None, library: str | None = None,
            since: date | None = None, include_secret: bool = False, seed: int = SEED,
            hold_back: int = HOLD_BACK) -> RetrainReport:
    """Count the accepted text (but the held-back pages) onto the shipped counts, write the result
    to ``folder`` (default $DIGITIZE_DATA/vietnamese/) and measure the correction on the held-back
    lines with the data read before and with the new data. The corrector of this process reads the
    new data from then on."""
    folder = folder or vietnamese.installed_folder()
    before_folder = vietnamese.data_folder()
    before = vietnamese.read_frequencies(before_folder)
    shipped = vietnamese.read_frequencies(vietnamese.shipped_folder())
    report = RetrainReport(folder=str(folder), seed=seed, hold_back=hold_back,
                           before_data="shipped" if before_folder == vietnamese.shipped_folder() else str(before_folder))
    items, report.secret_left_out = accepted_items(session, library, since, include_secret)
    trained: list[str] = []
    held: list[AltoLine] = []
    for item in items:
        try:
            pages = list(accepted_pages(store, item))
        except StorageUnavailable:
            raise
        except (StorageError, OSError, ValueError, KeyError) as exc:
            report.unreadable.append((f"{item.library}/{item.item_id}", type(exc).__name__))
            continue
        report.items += 1
        for page in pages:
            lines = page.ground_truth
            if not lines:
                continue
            if held_back(f"{item.library}/{item.item_id}/{page.number}", seed, hold_back):
                report.pages_held += 1
                held += lines
            else:
                report.pages_trained += 1
                trained += [line.text for line in lines]
    report.lines_trained, report.lines_held = len(trained), len(held)
    report.words_held = sum(len(line.text.split()) for line in held)
    unigrams, bigrams = count(trained)
    model = merged(shipped, unigrams, bigrams)
    report.seen, report.syllables, report.bigrams = sum(unigrams.values()), len(model.unigrams), len(model.bigrams)
    report.syllables_new = len(set(model.unigrams) - set(shipped.unigrams))
    report.before = rates(word_errors(held, before))
    report.after = rates(word_errors(held, model))
    report.made = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    write(folder, model)
    write_atomic(folder / REPORT, json.dumps(asdict(report), ensure_ascii=False, indent=1) + "\n")
    vietnamese.frequencies.cache_clear()
    return report
