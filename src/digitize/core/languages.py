"""The language of an item as the catalogues record it: an ISO 639-2 code (MARC's and MODS'
iso639-2b: vie, eng, fre, chi; lzh, ISO 639-3, for classical Chinese), found from the code itself,
an ISO 639-1 code (vi) or the language's name as an operator writes it ("tiếng Việt", "Vietnamese",
"tieng viet")."""

from __future__ import annotations

import unicodedata

# code: the names and other codes an operator may write for it (lower case, with their diacritics)
NAMES: dict[str, tuple[str, ...]] = {
    "vie": ("vi", "vietnamese", "tiếng việt", "tiếng việt nam", "việt", "việt ngữ", "quốc ngữ", "chữ quốc ngữ", "nôm", "chữ nôm"),
    "eng": ("en", "english", "tiếng anh", "anh ngữ"),
    "fre": ("fr", "fra", "french", "français", "tiếng pháp", "pháp văn", "pháp ngữ"),
    "chi": ("zh", "zho", "chinese", "tiếng hán", "chữ hán", "hán", "tiếng trung", "tiếng hoa", "trung văn"),
    "lzh": ("literary chinese", "classical chinese", "hán văn", "hán văn cổ", "văn ngôn", "cổ văn"),
    "jpn": ("ja", "japanese", "tiếng nhật"),
    "kor": ("ko", "korean", "tiếng hàn", "hàn", "tiếng triều tiên"),
    "rus": ("ru", "russian", "tiếng nga"),
    "ger": ("de", "deu", "german", "deutsch", "tiếng đức"),
    "lat": ("la", "latin", "tiếng la tinh", "tiếng latinh"),
    "khm": ("km", "khmer", "tiếng khmer", "tiếng khơ me"),
    "lao": ("lo", "tiếng lào"),
    "tha": ("th", "thai", "tiếng thái"),
    "spa": ("es", "spanish", "español", "tiếng tây ban nha"),
    "mul": ("multiple", "nhiều thứ tiếng", "nhiều ngôn ngữ"),
}
KEPT = {"fra", "zho", "deu"}  # ISO 639-2/T codes stated by items before: kept as they are


def _plain(text: str) -> str:
    """Lower case without diacritics (đ as d): 'tieng viet' as typed on a keyboard without them."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _tables() -> tuple[dict[str, str], dict[str, str]]:
    exact, plain, clashes = {}, {}, set()
    for code, names in NAMES.items():
        for name in (code, *names):
            exact[name] = code
            key = _plain(name)
            if plain.get(key, code) != code:  # "hán" (Chinese) and "hàn" (Korean) without their marks
                clashes.add(key)
            plain[key] = code
    for name in KEPT:
        exact[name] = name
    return exact, {key: code for key, code in plain.items() if key not in clashes}


EXACT, PLAIN = _tables()


def language_code(value: str) -> str:
    """The code for ``value`` (a code or a name, any case); ValueError naming the accepted values."""
    said = " ".join(unicodedata.normalize("NFC", value).split()).lower()
    found = EXACT.get(said) or PLAIN.get(_plain(said))
    if found is None and said.startswith(("tiếng ", "tieng ")):
        found = EXACT.get(said.split(" ", 1)[1]) or PLAIN.get(_plain(said.split(" ", 1)[1]))
    if found is None:
        raise ValueError(
            f"not a language digitize knows; write its ISO 639-2 code ({', '.join(NAMES)}) or its name, "
            'e.g. "vie" or "tiếng Việt"')
    return found
