"""Vietnamese syllables: a validator (onset + rhyme + tone rules, tone-mark placement) and a
corrector of OCR words that differ from the print only in diacritics.

Quốc ngữ writes one syllable per word and the set of syllables is closed, so an OCR word that is
not a syllable is almost surely misread, and one that is a syllable but rare where the context
expects a common one probably is too. The corrector only ever chooses among the character
alternatives Tesseract itself offered for the word (same base letter, other marks), keeps only
valid syllables, and lets syllable unigram and bigram frequencies (data/vietnamese/, built by
scripts/build_vietnamese_data.py from the project's own texts) decide.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

TONE_MARKS = {"\u0300": "huyen", "\u0301": "sac", "\u0309": "hoi", "\u0303": "nga", "\u0323": "nang"}
VOWELS = set("aăâeêioôơuưy")
MODIFIED = set("ăâêôơư")
ONSETS = ("ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr",
          "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "")
RHYMES = frozenset("""
a ai ao au ay ac ach am an ang anh ap at
ăc ăm ăn ăng ăp ăt
âc âm ân âng âp ât âu ây
e ec em en eng eo ep et
ê êch êm ên ênh êp êt êu
i ia ich im in inh ip it iu iêc iêm iên iêng iêp iêt iêu
o oc oi om on ong op ot oa oac oach oai oam oan oang oanh oao oap oat oay oăc oăm oăn oăng oăt
oe oen oeo oet ooc oong
ô ôc ôi ôm ôn ông ôp ôt
ơ ơi ơm ơn ơp ơt
u ua uân uâng uât uây uc ui um un ung up ut uê uênh uêch uy uya uych uyên uyêt uyn uynh uyt uyu
uơ uôc uôi uôm uôn uông uôt
ư ưa ưc ưi ưu ưng ưm ưn ươc ươi ươm ươn ương ươp ươt ươu ưt
y yêm yên yêt yêu
""".split())
STOPS = ("ch", "c", "p", "t")
FRONT = set("eêiy")
ROMAN = re.compile(r"^[IVXLC]+$")
WORD = re.compile(r"^(\W*)(\w+?)(\W*)$")


def strip_marks(text: str) -> str:
    """The text with every diacritic removed (đ becomes d): the base letters."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d").replace("Đ", "D")


def fold(text: str) -> str:
    """The text as readers may type it: lower case, every diacritic taken off, đ→d, NFC. What both
    the collection's search and the search inside an item compare, so that they agree."""
    return unicodedata.normalize("NFC", strip_marks(text).lower())


def split_tone(syllable: str) -> tuple[str, str | None, int, int]:
    """The syllable without its tone mark (NFC), the tone (None for ngang), the index of the marked
    letter, and how many tone marks there were."""
    letters, tone, where, count = [], None, -1, 0
    for index, char in enumerate(unicodedata.normalize("NFC", syllable)):
        parts = unicodedata.normalize("NFD", char)
        marks = [c for c in parts if c in TONE_MARKS]
        if marks:
            tone, where, count = TONE_MARKS[marks[0]], index, count + len(marks)
        letters.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS)))
    return "".join(letters), tone, where, count


def _tone_places(rhyme: str) -> set[int]:
    """Where in the rhyme the tone mark may stand (old and new placement both accepted: hòa, hoà)."""
    vowels = [i for i, c in enumerate(rhyme) if c in VOWELS]
    modified = [i for i in vowels if rhyme[i] in MODIFIED]
    if modified:
        return {modified[-1]}  # ươ: on ơ; otherwise the one modified vowel
    if len(vowels) == 1:
        return set(vowels)
    if vowels[-1] < len(rhyme) - 1:  # closed by a consonant: on the last vowel (hoàng, quýt)
        return {vowels[-1]} | ({vowels[0]} if rhyme[:2] in ("oa", "oe", "uy") and len(vowels) == 2 else set())
    if len(vowels) == 3:
        return {vowels[1]}
    if rhyme[:2] in ("oa", "oe", "uy"):
        return set(vowels)
    return {vowels[0]}


@lru_cache(maxsize=65536)
def is_syllable(word: str) -> bool:
    """Whether ``word`` (any case, NFC or not) is a valid Vietnamese syllable: a known onset, a known
    rhyme, the spelling rules (k/gh/ngh before e, ê, i, y; c/g/ng elsewhere), a tone allowed on a stop
    rhyme (only sắc and nặng) and the tone mark on the rhyme's main vowel."""
    if not word or len(word) > 7:
        return False
    base, tone, where, count = split_tone(word.lower())
    if count > 1 or not base.isalpha():
        return False
    for onset in ONSETS:
        if not base.startswith(onset):
            continue
        rhyme = base[len(onset):]
        if onset == "qu":
            if not rhyme or rhyme[0] in "uo" or rhyme not in RHYMES and "u" + rhyme not in RHYMES:
                continue
        elif rhyme not in RHYMES:
            continue
        first = rhyme[0]
        if onset in ("k", "gh", "ngh") and first not in FRONT:
            continue
        if onset in ("c", "ng") and first in FRONT or onset == "g" and first in "eê" or onset == "gh" and first == "y":
            continue
        if onset == "gi" and first == "i":
            continue
        if rhyme.endswith(STOPS) and tone not in ("sac", "nang"):
            continue
        if tone is not None and where - len(onset) not in _tone_places(rhyme):
            continue
        return True
    return False


def letters_of(token: str) -> tuple[str, str, str] | None:
    """A recognised word split into leading punctuation, its letters and trailing punctuation; None
    for a word that is not all letters inside (numbers, abbreviations with dots or hyphens)."""
    match = WORD.match(unicodedata.normalize("NFC", token))
    if match is None or any(c.isdigit() or c == "_" for c in match.group(2)):
        return None
    return match.group(1), match.group(2), match.group(3)


def counted(token: str) -> bool | None:
    """For the quality figure: True if the word is a valid syllable (or a run of them joined by
    hyphens or slashes), False if it holds letters but is not, None if it is not a word to judge: a
    number, punctuation, a list letter (b), an abbreviation in capitals with at most one vowel (UBND,
    HĐND) or a Roman numeral."""
    parts = [p for p in re.split(r"[\W_]+", unicodedata.normalize("NFC", token)) if p]
    if not parts or any(any(c.isdigit() for c in p) for p in parts) or len("".join(parts)) == 1:
        return None
    if all(p.isupper() and (ROMAN.match(p) or sum(c in VOWELS for c in strip_marks(p).lower()) <= 1)
           and not is_syllable(p) for p in parts):
        return None
    return all(is_syllable(p) for p in parts)


def not_syllable_share(tokens: list[str]) -> float | None:
    """The share of words with letters that are not valid Vietnamese syllables (None: no such word)."""
    verdicts = [v for v in map(counted, tokens) if v is not None]
    return round(verdicts.count(False) / len(verdicts), 4) if verdicts else None


@dataclass
class Frequencies:
    """Syllable unigram and bigram counts (lower case, NFC)."""

    unigrams: dict[str, int] = field(default_factory=dict)
    bigrams: dict[tuple[str, str], int] = field(default_factory=dict)
    total: int = 0
    followers: dict[str, int] = field(default_factory=dict)  # bigrams starting with a syllable
    kinds: dict[str, int] = field(default_factory=dict)  # different syllables seen after it

    def __post_init__(self) -> None:
        self.total = self.total or sum(self.unigrams.values())
        if not self.followers:
            for (first, _), count in self.bigrams.items():
                self.followers[first] = self.followers.get(first, 0) + count
                self.kinds[first] = self.kinds.get(first, 0) + 1

    def unigram(self, word: str) -> float:
        """log P(word): seen syllables by their count, unseen valid ones as a fraction of one sighting."""
        count = self.unigrams.get(word, 0) + (0.2 if is_syllable(word) else 0.001)
        return math.log(count / (self.total + 1))

    def bigram(self, first: str | None, second: str) -> float:
        """log P(second | first), interpolated with the unigram (Witten-Bell: the more kinds of
        syllables follow ``first``, the more weight the unigram keeps)."""
        unigram = math.exp(self.unigram(second))
        if first is None or first not in self.followers:
            return math.log(unigram)
        count, kinds = self.followers[first], self.kinds[first]
        return math.log((self.bigrams.get((first, second), 0) + kinds * unigram) / (count + kinds))


DATA_FILES = ("syllables.tsv", "bigrams.tsv")


def shipped_folder() -> Traversable:
    """The package's syllable data (src/digitize/data/vietnamese/), never written by the program."""
    return resources.files("digitize") / "data" / "vietnamese"


def installed_folder() -> Path:
    """Where `digitize vietnamese retrain` writes the installation's own data: $DIGITIZE_DATA/vietnamese/."""
    from digitize.core.settings import get_settings

    return get_settings().data / "vietnamese"


def data_folder() -> Traversable:
    """The syllable data the corrector reads: the installation's (both files in
    $DIGITIZE_DATA/vietnamese/, written by a retrain) when present, else the shipped data."""
    installed = installed_folder()
    return installed if all((installed / name).is_file() for name in DATA_FILES) else shipped_folder()


@lru_cache(maxsize=1)
def frequencies() -> Frequencies:
    """The syllable frequencies the corrector uses (``data_folder``), read once per process."""
    return read_frequencies(data_folder())


def read_frequencies(folder: Traversable | Path) -> Frequencies:
    """Syllable and bigram counts from ``syllables.tsv`` and ``bigrams.tsv`` in ``folder``."""
    unigrams, bigrams = {}, {}
    for line in (folder / "syllables.tsv").read_text(encoding="utf-8").splitlines():
        word, count = line.split("\t")
        unigrams[word] = int(count)
    for line in (folder / "bigrams.tsv").read_text(encoding="utf-8").splitlines():
        pair, count = line.split("\t")
        first, second = pair.split(" ")
        bigrams[(first, second)] = int(count)
    return Frequencies(unigrams, bigrams)


@dataclass
class Word:
    """A recognised word and, per character, Tesseract's alternatives with their confidence (0-100),
    the recognised character first."""

    text: str
    choices: list[list[tuple[str, float]]] = field(default_factory=list)


OCR_WEIGHT = 1.0  # weight of Tesseract's character confidences against the syllable frequencies
MARGIN = 2.0  # nats a changed word must win by
FLOOR = 2.0  # confidence given to an alternative Tesseract scored 0 (it still named it)
MAX_CANDIDATES = 256


def _same_case(char: str, like: str) -> str:
    return char.upper() if like.isupper() else char.lower()


def candidates(word: Word) -> list[tuple[str, float]]:
    """Spellings of the word that differ only in diacritics and that Tesseract's alternatives support,
    each with the log-probability of its characters; the recognised word first."""
    split = letters_of(word.text)
    if split is None or len(word.choices) != len(word.text):
        return [(word.text, 0.0)]
    lead, core, _ = split
    options = []
    for index, char in enumerate(word.text):
        choices = word.choices[index] or [(char, 100.0)]
        best = max(choices[0][1], FLOOR)
        inside = len(lead) <= index < len(lead) + len(core)
        seen, option = set(), []
        for alternative, confidence in [(char, best)] + list(choices):
            alternative = unicodedata.normalize("NFC", alternative)
            if len(alternative) != 1 or not alternative.isalpha():
                continue
            alternative = _same_case(alternative, char)
            if alternative in seen or (alternative != char and (
                    not inside or strip_marks(alternative).lower() != strip_marks(char).lower())):
                continue
            seen.add(alternative)
            option.append((alternative, math.log(max(confidence, FLOOR) / max(best, FLOOR))))
        options.append(option or [(char, 0.0)])
    found = []
    for combination in itertools.islice(itertools.product(*options), MAX_CANDIDATES):
        text = "".join(c for c, _ in combination)
        if text != word.text and not is_syllable(text[len(lead):len(lead) + len(core)]):
            continue
        found.append((text, sum(cost for _, cost in combination)))
    found.sort(key=lambda item: item[0] != word.text)
    return found


def _key(text: str) -> str | None:
    split = letters_of(text)
    return split[1].lower() if split is not None else None


def correct_line(words: list[Word], model: Frequencies | None = None) -> list[str]:
    """The words, each replaced by the spelling that its alternatives allow and the context prefers:
    the likeliest sequence of syllables over each phrase (Viterbi over the candidates, syllable
    bigrams between them), where every changed word must win ``MARGIN`` over what Tesseract read."""
    model = model or frequencies()
    chosen, phrase = [], []
    for index, word in enumerate(words):
        phrase.append(word)
        if index + 1 == len(words) or _ends_phrase(word.text) or _key(words[index + 1].text) is None:
            chosen += _best_sequence(phrase, model)
            phrase = []
    return chosen


def _best_sequence(words: list[Word], model: Frequencies) -> list[str]:
    best: dict[str, tuple[float, list[str]]] = {}  # by the last word's key: score, words so far
    for position, word in enumerate(words):
        options = candidates(word) if _key(word.text) is not None else [(word.text, 0.0)]
        step: dict[str, tuple[float, list[str]]] = {}
        for text, ocr_cost in options:
            key = _key(text) or ""
            emit = OCR_WEIGHT * ocr_cost - (MARGIN if text != word.text else 0.0)
            if not best:
                score, path = emit + model.bigram(None, key), [text]
            else:
                score, path = max(((s + model.bigram(k or None, key), p) for k, (s, p) in best.items()),
                                  key=lambda item: item[0])
                score, path = score + emit, path + [text]
            if key not in step or step[key][0] < score:
                step[key] = (score, path)
        best = step
    return max(best.values(), key=lambda item: item[0])[1] if best else []


def _ends_phrase(text: str) -> bool:
    split = letters_of(text)
    return split is None or bool(split[2].strip())
