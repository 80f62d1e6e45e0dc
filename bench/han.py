"""Hán read both ways: CER on generated pages set in horizontal lines and in vertical columns, for
the pipeline's han-nom (direction decided per page) and han-horizontal profiles, OCRmyPDF's sidecar
text and the bare tesseract command, same pages, same language data.

    .venv/bin/python bench/han.py [--pages N]

CER: edit distance over the reference length, without spaces (Tesseract spaces Hán characters out)
and in NFKC (its ',' for '，'). Needs fonts-noto-cjk (scripts/setup.sh installs it)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

from rapidfuzz.distance import Levenshtein

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from hanpages import render_pages  # noqa: E402

from digitize.capture.intake import plan_item  # noqa: E402
from digitize.engine.pipeline import process_page  # noqa: E402
from digitize.core.profiles import get_profile  # noqa: E402
from digitize.core.settings import get_settings  # noqa: E402

TEXTS = ["han-qianziwen.txt", "han-daxue.txt"]
OCRMYPDF = Path(sys.executable).parent / "ocrmypdf"
VERTICAL = {"chi_tra_vert": "5", "chi_tra": "6"}  # what the command line is given for each direction


def cer(hypothesis: str, reference: str) -> float:
    hyp, ref = (re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)) for s in (hypothesis, reference))
    return Levenshtein.distance(hyp, ref) / max(1, len(ref))


def pipeline(image: Path, profile_name: str, work: Path) -> tuple[str, str]:
    """The page's text as the pipeline reads it with the profile, and the direction it read it in."""
    settings = get_settings()
    profile = get_profile(settings.profiles, profile_name)
    folder = work / "item"
    folder.mkdir(exist_ok=True)
    (folder / image.name).write_bytes(image.read_bytes())
    (folder / "item.toml").write_text('id = "B"\ntitle = "b"\nlibrary = "B"\naccess = "open"\n', encoding="utf-8")
    plan = plan_item(folder, work, None, lambda meta: profile, settings.max_pixels)
    out = work / "out" / profile_name
    record = process_page(plan.pages[0], profile, out)
    return (out / record.text_file).read_text(encoding="utf-8"), record.direction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2, help="pages per direction and level")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for direction in ("horizontal", "vertical"):
            for level in ("moderate", "hard"):
                for number in range(args.pages):
                    text = ROOT / "scripts" / "corpus" / TEXTS[number % len(TEXTS)]
                    target = work / f"{direction}-{level}-{number}"
                    [entry] = render_pages(text, target, 1, 7 + number, direction, level=level, fmt="png",
                                           border=False)
                    image, truth = target / entry["image"], (target / entry["gt"]).read_text(encoding="utf-8")
                    row = {"page": f"{direction} {level} {number + 1}"}
                    for name in ("han-nom", "han-horizontal"):
                        if name == "han-horizontal" and direction == "vertical":
                            continue
                        hypothesis, read_as = pipeline(image, name, target)
                        row[name] = f"{cer(hypothesis, truth):.3f} ({read_as[0]})"
                    language = "chi_tra_vert" if direction == "vertical" else "chi_tra"
                    sidecar = target / "sidecar.txt"
                    subprocess.run([OCRMYPDF, "-l", language, "--deskew", "--sidecar", sidecar, "--output-type",
                                    "pdf", "--jobs", "1", "--quiet", image, target / "ocrmypdf.pdf"], check=True)
                    row["ocrmypdf"] = f"{cer(sidecar.read_text(encoding='utf-8'), truth):.3f}"
                    bare = subprocess.run(["tesseract", image, "-", "-l", language, "--psm", VERTICAL[language]],
                                          capture_output=True, text=True, check=True).stdout
                    row["tesseract"] = f"{cer(bare, truth):.3f}"
                    rows.append(row)
                    print(row, flush=True)
    columns = ["page", "han-nom", "han-horizontal", "ocrmypdf", "tesseract"]
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row.get(c, "-") for c in columns) + " |")


if __name__ == "__main__":
    main()
